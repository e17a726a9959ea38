namespace Orchestrator.Scheduler.Lifecycle;

/// <summary>What a gang's exit code says, in words: a user error, a signal by name, or a plain code.</summary>
public static class ExitCause
{
    /// <summary>The exit code of a worker that stopped on a user error (a bad spec, a missing file, a diverged run).</summary>
    public const int UserError = 2;

    private static readonly Dictionary<int, string> Signals = new()
    {
        [1] = "SIGHUP", [2] = "SIGINT", [3] = "SIGQUIT", [4] = "SIGILL", [5] = "SIGTRAP", [6] = "SIGABRT", [7] = "SIGBUS",
        [8] = "SIGFPE", [9] = "SIGKILL", [10] = "SIGUSR1", [11] = "SIGSEGV", [12] = "SIGUSR2", [13] = "SIGPIPE",
        [14] = "SIGALRM", [15] = "SIGTERM", [24] = "SIGXCPU", [25] = "SIGXFSZ",
    };

    /// <summary>The signal that ended a process with <paramref name="exitCode"/> (shells, mpiexec and .NET report 128 + N), or null.</summary>
    public static string? SignalOf(int exitCode) =>
        exitCode > 128 && Signals.TryGetValue(exitCode - 128, out var name) ? name : null;

    /// <summary>"exited with code 1", "failed with a user error (exit code 2)", "was killed by SIGKILL (exit code 137)".</summary>
    public static string Describe(int exitCode) => exitCode switch
    {
        UserError => $"failed with a user error (exit code {exitCode})",
        _ when SignalOf(exitCode) is { } signal => $"was killed by {signal} (exit code {exitCode})",
        _ => $"exited with code {exitCode}",
    };
}
