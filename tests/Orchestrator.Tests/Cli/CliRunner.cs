using System.Diagnostics;

namespace Orchestrator.Tests.Cli;

/// <summary>What one run of the CLI did: its exit code and everything it printed (stdout, then stderr).</summary>
internal sealed record CliResult(int ExitCode, string Output)
{
    public override string ToString() => $"exit {ExitCode}\n{Output}";
}

/// <summary>
/// Runs the real <c>orchestrator</c> CLI as a child process (<c>dotnet orchestrator.dll ...</c>, copied into the
/// test output by the project reference), so tests see exactly what a user sees: exit code and console text.
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

        var start = new ProcessStartInfo(DotnetHost())
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(EntryAssembly);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment["NO_COLOR"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {start.FileName}");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var limit = timeout ?? DefaultTimeout;
        if (!process.WaitForExit(limit))
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            process.WaitForExit();
            throw new TimeoutException($"orchestrator {string.Join(' ', start.ArgumentList.Skip(1))} ran longer than {limit}:\n{stdout.Result}{stderr.Result}");
        }
        process.WaitForExit(); // drains the redirected streams
        return new CliResult(process.ExitCode, stdout.Result + stderr.Result);
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
