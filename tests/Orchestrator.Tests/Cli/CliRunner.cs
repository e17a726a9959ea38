using Orchestrator.Bench.Drivers;
using Orchestrator.Bench;

namespace Orchestrator.Tests.Cli;

/// <summary>What one run of the CLI did: its exit code and everything it printed (stdout, then stderr).</summary>
internal sealed record CliResult(int ExitCode, string Output)
{
    public override string ToString() => $"exit {ExitCode}\n{Output}";
}

/// <summary>
/// Runs the real <c>orchestrator</c> CLI as a child process (<c>dotnet orchestrator.dll ...</c>, or the harness's
/// <c>orchestrator-bench.dll</c> for its verbs, as the launcher script does; both copied into the test output by the
/// project references), so tests see exactly what a user sees: exit code and console text.
/// </summary>
internal static class CliRunner
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(120);

    /// <summary>The CLI's entry assembly next to the test assembly.</summary>
    public static string EntryAssembly { get; } = Path.Combine(AppContext.BaseDirectory, "orchestrator.dll");

    /// <summary>Runs <c>orchestrator ARGS</c> in <paramref name="workingDirectory"/> and waits for it to exit.</summary>
    /// <param name="environment">Variables set (or, with a null value, removed) for the child only.</param>
    /// <exception cref="TimeoutException">It ran longer than <paramref name="timeout"/> (it is killed).</exception>
    public static CliResult Run(string workingDirectory, IEnumerable<string> args, TimeSpan? timeout = null,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        if (!File.Exists(EntryAssembly))
            throw new FileNotFoundException($"{EntryAssembly} is missing: the test project must reference Silos so the CLI is copied to its output", EntryAssembly);

        string[] argv = [.. args];
        var entry = HarnessVerbs.EntryAssemblyFor(AppContext.BaseDirectory, argv.FirstOrDefault());
        var limit = timeout ?? DefaultTimeout;
        var result = ChildProcess.Run(DotnetHost(), [entry, .. argv], limit, "the tests need the .NET SDK's dotnet host", workingDirectory, environment);
        if (result.TimedOut)
            throw new TimeoutException($"orchestrator {string.Join(' ', argv)} ran longer than {limit}:\n{result.Stdout}{result.Stderr}");
        return new CliResult(result.ExitCode, result.Stdout + result.Stderr);
    }

    /// <summary>Runs <c>orchestrator train SPEC ARGS</c>.</summary>
    public static CliResult Train(string workingDirectory, string spec, params string[] args) =>
        Run(workingDirectory, ["train", spec, .. args]);

    /// <summary>The dotnet host running the tests (set by the SDK), else the one on PATH.</summary>
    /// <summary>The <c>dotnet</c> host that runs the tests (the CLI and MPI workers the tests start run under it too).</summary>
    public static string DotnetHost()
    {
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(host) && File.Exists(host)) return host;
        var current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet") return current;
        return "dotnet";
    }
}
