using System.CommandLine;
using Orchestrator.Contracts.Grains;
using Orchestrator.Silos.Terminal;
using Orchestrator.Silos.Hosting;
using Spectre.Console;

namespace Orchestrator.Silos.Commands;

/// <summary><c>orchestrator cancel JOB</c>: stops a job for good (its gang is killed). Unknown or already finished job: exit 2.</summary>
public static class CancelCommand
{
    /// <summary>Builds the <c>cancel</c> command.</summary>
    public static Command Create()
    {
        var job = new Argument<string>("job") { Description = "The job's name" };
        var client = new ClientOptions();
        var command = new Command("cancel", "Cancel a job (its workers are stopped)") { job };
        client.AddTo(command);
        command.SetAction(parse => CommandGuard.Run(() =>
            RunAsync(parse.GetValue(job)!, client.Target(parse)).GetAwaiter().GetResult()));
        return command;
    }

    private static async Task<int> RunAsync(string job, ClusterTarget target)
    {
        await using var connection = await ClusterConnection.ConnectAsync(target);
        var status = await connection.CallAsync(c => c.GetGrain<IJobGrain>(job).CancelAsync(), job);
        AnsiConsole.MarkupLineInterpolated($"job [bold]{job}[/]: {status.Phase.ToString().ToLowerInvariant()}");
        return 0;
    }
}
