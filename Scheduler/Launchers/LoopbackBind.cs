using System.Diagnostics;

namespace Orchestrator.Scheduler.Launchers;

/// <summary>
/// Keeps a local job's sockets on loopback: its processes start with <c>native/liborchestrator-loopback.so</c> preloaded
/// (built from <c>Launchers/Native/loopback_bind.c</c>), which binds a socket asked for on every interface to loopback
/// instead, and Hydra is told that its own host is 127.0.0.1 (its proxies connect there). MPICH 4.0's Hydra has no
/// setting for the address of its control socket (it binds INADDR_ANY) and its proxies and ranks inherit that socket.
/// </summary>
public static class LoopbackBind
{
    /// <summary>The preload library next to the running assembly.</summary>
    public static string LibraryPath { get; } = Path.Combine(AppContext.BaseDirectory, "native", "liborchestrator-loopback.so");

    /// <summary>Hydra's arguments that make its proxies connect to the launching host on loopback.</summary>
    public static IReadOnlyList<string> MpirunArguments { get; } = ["-localhost", "127.0.0.1"];

    /// <summary>Preloads the library into the process <paramref name="start"/> describes (and everything it starts).</summary>
    /// <exception cref="LaunchException">The library was not built (no C compiler at build time).</exception>
    public static void Apply(ProcessStartInfo start)
    {
        ArgumentNullException.ThrowIfNull(start);
        if (!File.Exists(LibraryPath))
            throw new LaunchException($"{LibraryPath} is missing: it is built with the orchestrator (apt-get install gcc libc6-dev, then rebuild)");
        var existing = start.Environment.TryGetValue("LD_PRELOAD", out var value) ? value : null;
        start.Environment["LD_PRELOAD"] = string.IsNullOrEmpty(existing) ? LibraryPath : $"{LibraryPath} {existing}";
    }
}
