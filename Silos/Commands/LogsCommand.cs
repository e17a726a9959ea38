using System.CommandLine;
using Orchestrator.Contracts.Grains;
using Orchestrator.Silos.Terminal;
using Orchestrator.Silos.Hosting;
using Spectre.Console;

namespace Orchestrator.Silos.Commands;

/// <summary>
/// <c>orchestrator logs JOB [--rank R] [--tail N]</c>: the end of the job's log (every rank's lines, prefixed <c>[R]</c>, and
/// the launcher's <c>#</c> lines), or rank R's lines without the prefix. Read by the job's grain on the silo's machine.
/// </summary>
public static class LogsCommand
{
    /// <summary>Lines shown without <c>--tail</c>.</summary>
    public const int DefaultTail = 100;

    /// <summary>Builds the <c>logs</c> command.</summary>
    public static Command Create()
    {
        var job = new Argument<string>("job") { Description = "The job's name" };
        var rank = new Option<int?>("--rank") { Description = "Only this rank's lines (without the [R] prefix)" }.AtLeast(0);
        var tail = new Option<int>("--tail") { Description = $"Last N lines (default {DefaultTail}; 0 = all)", DefaultValueFactory = _ => DefaultTail }.AtLeast(0);
        var client = new ClientOptions();
        var command = new Command("logs", "Show a job's worker log (all ranks, or one)") { job, rank, tail };
        client.AddTo(command);
        command.SetAction(parse => CommandGuard.Run(() =>
            RunAsync(parse.GetValue(job)!, parse.GetValue(rank), parse.GetValue(tail), client.Target(parse)).GetAwaiter().GetResult()));
        return command;
    }

    private static async Task<int> RunAsync(string job, int? rank, int tail, ClusterTarget target)
    {
        await using var connection = await ClusterConnection.ConnectAsync(target);
        var log = await connection.ReadAsync(c => c.GetGrain<IJobGrain>(job).GetLogAsync(rank, tail), job);
        if (!log.Exists)
        {
            ConsoleSetup.Error.MarkupLineInterpolated($"job {job} has no log yet ({log.Path})");
            return 0;
        }
        foreach (var line in log.Lines)
            Console.Out.WriteLine(line);
        return 0;
    }
}
