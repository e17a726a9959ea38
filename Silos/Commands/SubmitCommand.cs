using System.CommandLine;
using Orchestrator.Contracts.Grains;
using Orchestrator.Contracts.Models;
using Orchestrator.Spec;
using Orchestrator.Silos.Terminal;
using Orchestrator.Silos.Hosting;
using Spectre.Console;

namespace Orchestrator.Silos.Commands;

/// <summary>
/// <c>orchestrator submit SPEC [--workers N] [--set k=v]... [--out DIR]</c>: validates the spec here (every field error at
/// once, exit 2, nothing submitted), checks the gang fits the cluster's slots, then hands the job to the cluster and
/// returns (follow it with <c>status JOB --watch</c>). A job name already submitted is refused (exit 2).
/// </summary>
public static class SubmitCommand
{
    /// <summary>Builds the <c>submit</c> command.</summary>
    public static Command Create()
    {
        var spec = new Argument<FileInfo>("spec") { Description = "Job spec (YAML)" };
        var workers = new Option<int?>("--workers") { Description = "Worker processes (overrides the spec's workers)" }.Between(1, SpecVocabulary.MaxWorkers);
        var set = SpecOptions.Set();
        var output = new Option<string?>("--out") { Description = "Run directory (default: the silo's runs_root/<name>)" };
        var client = new ClientOptions();
        var command = new Command("submit", "Submit a job to a running cluster (see `up`)") { spec, workers, set, output };
        client.AddTo(command);
        command.SetAction(parse => CommandGuard.Run(() => Execute(
            parse.GetValue(spec)!, parse.GetValue(workers), parse.GetValue(set) ?? [], parse.GetValue(output), client.Target(parse))));
        return command;
    }

    private static int Execute(FileInfo specFile, int? workers, string[] overrides, string? output, ClusterTarget target)
    {
        var all = overrides.ToList();
        if (workers is { } n) all.Add($"workers={n}");
        // SpecException (exit 2) before anything is sent. The cluster's machines, not this one, hold the memory: no memory check here.
        var job = JobSpecLoader.LoadFile(specFile.FullName, all, SpecHost.CoresOnly);
        var runDirectory = output is null ? null : Path.GetFullPath(output);
        return SubmitAsync(job, runDirectory, target).GetAwaiter().GetResult();
    }

    private static async Task<int> SubmitAsync(JobSpec job, string? runDirectory, ClusterTarget target)
    {
        await using var connection = await ClusterConnection.ConnectAsync(target);
        var scheduler = await connection.ReadAsync(c => c.GetGrain<ISchedulerGrain>(ISchedulerGrain.DefaultKey).GetSnapshotAsync());
        GangCapacity.EnsureFits(job, scheduler);
        var submission = JobSubmission.ForSpec(job, JobSpecYaml.ToYaml(job)) with { OutputDirectory = runDirectory };
        var status = await connection.CallAsync(c => c.GetGrain<IJobGrain>(job.Name).SubmitAsync(submission));
        AnsiConsole.MarkupLineInterpolated(
            $"submitted job [bold]{job.Name}[/]: {job.Workers} workers, {status.Phase.ToString().ToLowerInvariant()}{(runDirectory is null ? "" : $", run directory {runDirectory}")}");
        if (status.Phase == JobPhase.Failed)
        {
            ConsoleSetup.Error.MarkupLineInterpolated($"[red]job failed:[/] {status.FailureReason ?? "unknown reason"}");
            return RunCommand.JobFailed;
        }
        return 0;
    }
}
