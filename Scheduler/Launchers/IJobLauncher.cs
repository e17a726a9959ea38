using Orchestrator.Spec;

namespace Orchestrator.Scheduler.Launchers;

/// <summary>What a launcher needs to start one job's gang of workers.</summary>
/// <param name="JobId">The job's name (for messages).</param>
/// <param name="Workers">Worker processes to start (<c>-np</c>).</param>
/// <param name="SpecPath">The resolved spec file the workers train.</param>
/// <param name="OutputDirectory">The run directory (<c>--out</c>); the same one on every relaunch, so the
/// trainer resumes from its newest checkpoint. The launcher writes <c>logs/launcher.log</c> under it.</param>
/// <param name="ExtraArguments">Further <c>train</c> arguments (test hooks such as <c>--die-at</c>).</param>
/// <param name="Environment">Variables every worker gets (the worker link: gateway, job, launch); null = none.</param>
/// <param name="ExitCodePath">Where a supervised gang (<see cref="LocalMpiOptions.Supervisor"/>) records its exit code, so a silo
/// that did not start it (failover) learns its end; null = the launching silo's watcher only.</param>
public sealed record LaunchRequest(string JobId, int Workers, string SpecPath, string OutputDirectory, IReadOnlyList<string> ExtraArguments,
    IReadOnlyDictionary<string, string>? Environment = null, string? ExitCodePath = null)
{
    /// <summary>The per-job log file that receives every rank's stdout and stderr.</summary>
    public string LogPath => RunLayout.LauncherLog(OutputDirectory);
}

/// <summary>
/// Starts a job's workers (behind one interface: <c>local-mpi</c> now, Kubernetes later). Pure process
/// handling: no Orleans types, so it is testable alone.
/// </summary>
public interface IJobLauncher
{
    /// <summary>Starts the workers and returns once the processes exist.</summary>
    /// <exception cref="LaunchException">The launcher program could not be started.</exception>
    ILaunchedJob Launch(LaunchRequest request);
}

/// <summary>A started gang of workers.</summary>
public interface ILaunchedJob : IDisposable
{
    /// <summary>Process id of the launcher process (the process-group leader when started via <c>setsid</c>).</summary>
    int ProcessId { get; }

    /// <summary>Completes with the gang's exit code once every process has exited and the log is flushed.</summary>
    Task<int> Exited { get; }

    /// <summary>Kills the whole process group and tree (no orphans) and waits for the exit.</summary>
    Task<int> KillAsync();
}

/// <summary>A launcher program could not be started (missing <c>mpirun.mpich</c>, bad path, ...).</summary>
public sealed class LaunchException(string message, Exception? inner = null) : Exception(message, inner);
