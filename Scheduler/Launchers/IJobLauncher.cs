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
/// <param name="Hosts">The nodes of a gang that spans machines (address and ranks, in rank order), started through Hydra's <c>rsh</c>
/// launcher and the nodes' silos; null = every rank on this machine.</param>
public sealed record LaunchRequest(string JobId, int Workers, string SpecPath, string OutputDirectory, IReadOnlyList<string> ExtraArguments,
    IReadOnlyDictionary<string, string>? Environment = null, string? ExitCodePath = null, GangHosts? Hosts = null)
{
    /// <summary>The per-job log file that receives every rank's stdout and stderr.</summary>
    public string LogPath => RunLayout.LauncherLog(OutputDirectory);
}

/// <summary>One node of a gang that spans machines.</summary>
/// <param name="Node">The node's name.</param>
/// <param name="Address">Its address (what Hydra's <c>-hosts</c> lists and its launcher hands to <c>node-exec</c>).</param>
/// <param name="Ranks">Consecutive ranks it runs.</param>
public sealed record HostRanks(string Node, string Address, int Ranks);

/// <summary>Where a gang that spans machines runs, and how its launching node is reached.</summary>
/// <param name="Hosts">The nodes in rank order.</param>
/// <param name="LocalAddress">The launching silo's own address (Hydra's proxies connect back to <c>mpiexec</c> there).</param>
/// <param name="Interface">The network interface between nodes (MPI traffic, Hydra's control connections); null = MPICH's choice.</param>
public sealed record GangHosts(IReadOnlyList<HostRanks> Hosts, string LocalAddress, string? Interface = null)
{
    /// <summary>Hydra's <c>-hosts</c> value: <c>address:ranks,...</c>.</summary>
    public string HostList => string.Join(',', Hosts.Select(h => $"{h.Address}:{h.Ranks.ToString(System.Globalization.CultureInfo.InvariantCulture)}"));

    /// <summary>The placement as the job log records it: each node with its ranks.</summary>
    public string Describe()
    {
        var first = 0;
        var parts = new List<string>();
        foreach (var host in Hosts)
        {
            parts.Add($"{host.Node} ({host.Address}) rank{(host.Ranks == 1 ? $" {first}" : $"s {first}-{first + host.Ranks - 1}")}");
            first += host.Ranks;
        }
        return string.Join(", ", parts);
    }
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
