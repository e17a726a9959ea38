using System.CommandLine;
using Orchestrator.Contracts.Grains;
using Orchestrator.Contracts.Models;
using Orchestrator.Scheduler.Lifecycle;
using Orchestrator.Silos.Terminal;
using Orchestrator.Silos.Hosting;
using Orchestrator.Spec;
using Spectre.Console;

namespace Orchestrator.Silos.Commands;

/// <summary>
/// <c>orchestrator status [JOB] [--watch]</c>: without JOB a table of the cluster's nodes (when silos registered any) and of
/// every job, with JOB its detail and history. <c>--watch</c> refreshes every <see cref="Refresh"/> until Ctrl+C, or, with JOB, until the job ends (exit 0
/// Succeeded, 1 Failed or Cancelled). Unknown job: exit 2.
/// </summary>
public static class StatusCommand
{
    /// <summary>Time between refreshes of <c>--watch</c>.</summary>
    public static readonly TimeSpan Refresh = TimeSpan.FromSeconds(1.5);

    /// <summary>Builds the <c>status</c> command.</summary>
    public static Command Create()
    {
        var job = new Argument<string?>("job") { Description = "A job name (default: every job)", Arity = ArgumentArity.ZeroOrOne };
        var watch = new Option<bool>("--watch") { Description = "Refresh until Ctrl+C (or until JOB ends)" };
        var client = new ClientOptions();
        var command = new Command("status", "Show the cluster's jobs, or one job in detail") { job, watch };
        client.AddTo(command);
        command.SetAction(parse => CommandGuard.Run(() =>
            RunAsync(parse.GetValue(job), parse.GetValue(watch), client.Target(parse)).GetAwaiter().GetResult()));
        return command;
    }

    private static async Task<int> RunAsync(string? job, bool watch, ClusterTarget target)
    {
        using var interrupt = CtrlC.Listen();
        await using var connection = await ClusterConnection.ConnectAsync(target);
        while (true)
        {
            if (watch && AnsiConsole.Profile.Capabilities.Interactive) AnsiConsole.Clear();
            JobStatus? shown = null;
            if (job is null)
                await PrintAllAsync(connection);
            else
            {
                shown = await connection.ReadAsync(c => c.GetGrain<IJobGrain>(job).GetStatusAsync(), job);
                JobStatusView.Print(shown, DateTimeOffset.UtcNow);
            }
            if (!watch) return 0;
            if (shown is not null && JobTransitions.IsTerminal(shown.Phase))
                return shown.Phase == JobPhase.Succeeded ? 0 : RunCommand.JobFailed;
            try { await Task.Delay(Refresh, interrupt.Token); }
            catch (OperationCanceledException) { return 0; }
        }
    }

    private static async Task PrintAllAsync(ClusterConnection connection)
    {
        var names = await connection.ReadAsync(c => c.GetGrain<IJobRegistryGrain>(IJobRegistryGrain.DefaultKey).ListAsync());
        var jobs = new List<JobStatus>(names.Length);
        var unreadable = new List<(string Name, string Why)>();
        foreach (var name in names)
        {
            // One job whose state is gone (e.g. Redis lost keys) must not hide the others: it gets a row with the reason.
            try { jobs.Add(await connection.ReadAsync(c => c.GetGrain<IJobGrain>(name).GetStatusAsync(), name)); }
            catch (UserFacingException e) { unreadable.Add((name, e.Message)); }
        }
        var scheduler = await connection.ReadAsync(c => c.GetGrain<ISchedulerGrain>(ISchedulerGrain.DefaultKey).GetSnapshotAsync());
        NodeStatusView.Print(AnsiConsole.Console, scheduler);
        if (jobs.Count == 0 && unreadable.Count == 0)
            AnsiConsole.MarkupLine("no jobs submitted yet");
        else
            JobStatusView.PrintList(jobs, DateTimeOffset.UtcNow, unreadable);
    }
}
