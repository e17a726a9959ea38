using System.Diagnostics;
using System.Text.Json;
using Orchestrator.Bench.Drivers;
using Orchestrator.Bench;
using Orchestrator.Tests.Cli;

namespace Orchestrator.Tests.Collectives;

/// <summary>What one <c>mpirun.mpich</c> run did: exit code, output, wall time, and rank 0's JSON line if any.</summary>
internal sealed record MpiRunResult(int ExitCode, string Output, TimeSpan Elapsed)
{
    /// <summary>Rank 0's report (the output line that is a JSON object).</summary>
    public JsonElement Report
    {
        get
        {
            var line = Output.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.StartsWith('{'))
                ?? throw new Xunit.Sdk.XunitException($"no JSON report in the output:\n{this}");
            return JsonDocument.Parse(line).RootElement.Clone();
        }
    }

    public override string ToString() => $"exit {ExitCode} after {Elapsed.TotalSeconds:F1} s\n{Output}";
}

/// <summary>
/// Launches <c>mpirun.mpich -np N dotnet orchestrator.dll ARGS</c> (the harness's assembly for its verbs) the way the local launcher does and
/// waits with a hard limit: on timeout the whole tree (mpirun, its proxies, the ranks) is killed, so a
/// stuck collective fails a test instead of hanging CI.
/// </summary>
internal static class MpiRunner
{
    public const string Launcher = "mpirun.mpich";

    public static MpiRunResult Run(int ranks, TimeSpan limit, params string[] args) => Run(ranks, limit, [], args);

    /// <summary>As above, with <paramref name="launcherFlags"/> (e.g. <c>-env NAME VALUE</c>) passed to mpirun before the program.</summary>
    public static MpiRunResult Run(int ranks, TimeSpan limit, IReadOnlyList<string> launcherFlags, params string[] args)
    {
        var entry = HarnessVerbs.EntryAssemblyFor(AppContext.BaseDirectory, args.FirstOrDefault());
        var clock = Stopwatch.StartNew();
        var result = ChildProcess.Run(Launcher, ["-np", ranks.ToString(), .. launcherFlags, CliRunner.DotnetHost(), entry, .. args], limit,
            "the MPI tests need MPICH (apt-get install mpich)");
        if (result.TimedOut)
            throw new TimeoutException($"{Launcher} -np {ranks} {string.Join(' ', args)} ran longer than {limit} and was killed:\n{result.Stdout}{result.Stderr}");
        return new MpiRunResult(result.ExitCode, result.Stdout + result.Stderr, clock.Elapsed);
    }
}
