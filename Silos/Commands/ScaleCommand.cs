using System.CommandLine;
using Orchestrator.Contracts.Grains;
using Orchestrator.Spec;
using Orchestrator.Silos.Terminal;
using Orchestrator.Silos.Hosting;
using Spectre.Console;

namespace Orchestrator.Silos.Commands;

/// <summary>
/// <c>orchestrator scale JOB --workers N</c>: asks a running job to checkpoint and relaunch with N workers. The job grain
/// decides: an unknown job, a job that is not running, or N below 1 or above the capacity is refused (exit 2).
/// </summary>
public static class ScaleCommand
{
    /// <summary>Builds the <c>scale</c> command.</summary>
    public static Command Create()
    {
        var job = new Argument<string>("job") { Description = "The job's name" };
        var workers = new Option<int>("--workers") { Description = "The new worker count (at most the cluster's worker slots)", Required = true }.Between(1, SpecVocabulary.MaxWorkers);
        var client = new ClientOptions();
        var command = new Command("scale", "Rescale a running job to another worker count (checkpoint, relaunch, resume)") { job, workers };
        client.AddTo(command);
        command.SetAction(parse => CommandGuard.Run(() =>
            RunAsync(parse.GetValue(job)!, parse.GetValue(workers), client.Target(parse)).GetAwaiter().GetResult()));
        return command;
    }

    private static async Task<int> RunAsync(string job, int workers, ClusterTarget target)
    {
        await using var connection = await ClusterConnection.ConnectAsync(target);
        var status = await connection.CallAsync(c => c.GetGrain<IJobGrain>(job).RequestRescaleAsync(workers), job);
        AnsiConsole.MarkupLineInterpolated($"job [bold]{job}[/]: {status.Phase.ToString().ToLowerInvariant()}, workers {status.Workers}{(status.RequestedWorkers is { } next ? $" -> {next}" : "")}");
        return 0;
    }
}
