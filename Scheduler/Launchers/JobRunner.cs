using System.Collections.Concurrent;
using System.Diagnostics;
using Orchestrator.Spec;

namespace Orchestrator.Scheduler.Launchers;

/// <summary>
/// The silo's running jobs: starts a job's gang through the <see cref="IJobLauncher"/>, keeps the handle
/// across grain activations, reports the exit code through a callback, and kills the gang on request (a
/// killed gang's exit is not reported: whoever killed it already decided the job's fate). No Orleans types.
/// </summary>
/// <param name="launcher">Starts the gangs.</param>
/// <param name="defaultRunsRoot">Parent of the run directory of a job that names none.</param>
/// <param name="gateway">The silo gateway (<c>host:port</c>) the workers connect to for heartbeats; null = workers run unlinked.</param>
/// <param name="clusterId">The cluster id a worker's client must present to that gateway.</param>
/// <param name="workerEnvironment">Further variables every worker of every launch gets (site settings; test hooks); null = none.</param>
/// <param name="redis">The cluster's Redis server (<c>host:port</c>) when it has one: workers then find a live gateway
/// through Redis membership, so they reach another silo when theirs dies; null = the one gateway only.</param>
/// <param name="confineToRunsRoot">Refuse run directories outside <paramref name="defaultRunsRoot"/> (a shared silo: <c>up</c>);
/// false where the user's own process hosts the silo (<c>run</c>) and writes where they say.</param>
/// <param name="localNode">This silo's node (name, address, interface) when it offers one; gangs placed on it alone run as on a
/// single machine, others span nodes through Hydra.</param>
public sealed class JobRunner(IJobLauncher launcher, string defaultRunsRoot, string? gateway = null, string? clusterId = null,
    IReadOnlyDictionary<string, string>? workerEnvironment = null, string? redis = null, bool confineToRunsRoot = false,
    LocalNode? localNode = null) : IDisposable
{
    /// <summary>Environment variable with the cluster's Redis server (<c>host:port</c>), for the workers' gateway list.</summary>
    public const string RedisVariable = "ORCHESTRATOR_REDIS";

    /// <summary>Environment variable with the cluster id of the silo behind the gateway.</summary>
    public const string ClusterVariable = "ORCHESTRATOR_CLUSTER";

    /// <summary>Environment variable with the silo gateway (<c>host:port</c>) a worker heartbeats to.</summary>
    public const string GatewayVariable = "ORCHESTRATOR_GATEWAY";

    /// <summary>Environment variable with the job's name (its grain key).</summary>
    public const string JobVariable = "ORCHESTRATOR_JOB";

    /// <summary>Environment variable with the launch number (1 for the first gang, +1 per relaunch).</summary>
    public const string LaunchVariable = "ORCHESTRATOR_LAUNCH";

    /// <summary>File name of the spec the workers train, written into the run directory.</summary>
    public const string SpecFileName = "job.yaml";

    private readonly ConcurrentDictionary<string, Entry> running = new();

    /// <summary>The run directory of a job that names none: <c>ROOT/&lt;job&gt;</c>.</summary>
    public string DefaultOutputDirectory(string jobId) => Path.GetFullPath(Path.Combine(defaultRunsRoot, jobId));

    /// <summary>Refuses a run directory outside the runs root when this silo confines jobs to it (null = the default: allowed).</summary>
    /// <exception cref="ArgumentException">It is outside (or is the root itself).</exception>
    public void EnsureAllowed(string? outputDirectory)
    {
        if (!confineToRunsRoot || outputDirectory is null) return;
        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(defaultRunsRoot));
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(outputDirectory));
        if (!full.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new ArgumentException(
                $"run directory {full} is not under this silo's runs_root {root}: a silo writes only there (omit --out for {root}/<name>, or name a directory under it)");
    }

    /// <summary>The name of the node this silo offers; null when it offers none.</summary>
    public string? LocalNodeName => localNode?.Name;

    /// <summary>Whether a gang of this job is alive.</summary>
    public bool IsRunning(string jobId) => running.ContainsKey(jobId);

    /// <summary>
    /// Writes <paramref name="specYaml"/> to <c>DIR/job.yaml</c>, starts the gang and returns its launcher
    /// process id. <paramref name="onExit"/> runs on the thread pool with the exit code when the gang ends by itself.
    /// With a gateway, the workers get it, the job id and <paramref name="launch"/> in their environment (the worker link).
    /// </summary>
    /// <exception cref="InvalidOperationException">A gang of this job is still running.</exception>
    /// <exception cref="LaunchException">The launcher could not start.</exception>
    public int Start(string jobId, int workers, string specYaml, string outputDirectory, IReadOnlyList<string> extraArguments, Func<int, Task> onExit, int launch = 1,
        IReadOnlyList<HostRanks>? hosts = null)
    {
        ArgumentNullException.ThrowIfNull(onExit);
        Directory.CreateDirectory(outputDirectory);
        var specPath = Path.Combine(outputDirectory, SpecFileName);
        File.WriteAllText(specPath, specYaml);
        var entry = new Entry();
        if (!running.TryAdd(jobId, entry))
            throw new InvalidOperationException($"job '{jobId}' already has running workers");
        try
        {
            var environment = new Dictionary<string, string>(workerEnvironment ?? new Dictionary<string, string>());
            if (gateway is not null)
            {
                environment[GatewayVariable] = gateway;
                environment[JobVariable] = jobId;
                environment[LaunchVariable] = launch.ToString(System.Globalization.CultureInfo.InvariantCulture);
                environment[ClusterVariable] = clusterId ?? "";
                if (!string.IsNullOrEmpty(redis)) environment[RedisVariable] = redis;
            }
            entry.Job = launcher.Launch(new LaunchRequest(jobId, workers, specPath, outputDirectory, extraArguments, environment.Count == 0 ? null : environment,
                RunLayout.LaunchExitCode(outputDirectory, launch), SpanningHosts(hosts)));
        }
        catch
        {
            running.TryRemove(jobId, out _);
            throw;
        }
        _ = Task.Run(() => WatchAsync(jobId, entry, onExit)); // off the caller's scheduler (a grain's)
        return entry.Job.ProcessId;
    }

    /// <summary>The hosts of a gang that spans nodes; null when it runs on this machine alone.</summary>
    private GangHosts? SpanningHosts(IReadOnlyList<HostRanks>? hosts)
    {
        if (hosts is null || hosts.Count == 0) return null;
        if (hosts.Count == 1 && (localNode is null || hosts[0].Node == localNode.Name)) return null;
        var local = localNode ?? throw new LaunchException(
            $"the gang is placed on {hosts.Count} nodes but this silo offers no node of its own (no node section in its config): it cannot run mpiexec for them");
        return new GangHosts(hosts, local.Address, local.Interface);
    }

    /// <summary>Kills the job's gang (process group and tree) and waits for it; null when none was running.</summary>
    public async Task<int?> StopAsync(string jobId)
    {
        if (!running.TryGetValue(jobId, out var entry) || entry.Job is null) return null;
        entry.Killed = true;
        var code = await entry.Job.KillAsync().ConfigureAwait(false);
        running.TryRemove(new KeyValuePair<string, Entry>(jobId, entry));
        return code;
    }

    /// <summary>How long the job grain waits for a release before it goes on (the release itself goes on in the background).</summary>
    private static readonly TimeSpan ReleaseWait = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The job ended (succeeded, failed, cancelled): a launcher that keeps resources between launches
    /// (<see cref="IReleasesJobResources"/>, e.g. Kubernetes worker pods) deletes them. Waits a few seconds at most, so a slow or
    /// unreachable API does not hold up the job grain's caller; failures are logged, not thrown: the job's end stands.
    /// </summary>
    public async Task ReleaseAsync(string jobId)
    {
        if (launcher is not IReleasesJobResources holder) return;
        var release = Task.Run(() => holder.ReleaseAsync(jobId));
        _ = release.ContinueWith(t => Trace.TraceWarning($"job '{jobId}': releasing its launcher resources failed: {t.Exception?.GetBaseException().Message}"),
            CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        await Task.WhenAny(release, Task.Delay(ReleaseWait)).ConfigureAwait(false);
    }

    /// <summary>Kills every gang still running (silo shutdown): no orphaned workers.</summary>
    public void Dispose()
    {
        foreach (var (_, entry) in running)
        {
            entry.Killed = true;
            entry.Job?.Dispose();
        }
        running.Clear();
    }

    private async Task WatchAsync(string jobId, Entry entry, Func<int, Task> onExit)
    {
        var code = await entry.Job!.Exited.ConfigureAwait(false);
        running.TryRemove(new KeyValuePair<string, Entry>(jobId, entry));
        entry.Job.Dispose();
        if (entry.Killed) return;
        try
        {
            await onExit(code).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Trace.TraceWarning($"job '{jobId}': reporting exit code {code} failed: {e.Message}");
        }
    }

    private sealed class Entry
    {
        public ILaunchedJob? Job;
        public volatile bool Killed;
    }
}

/// <summary>The node a silo offers, as its runner needs it.</summary>
/// <param name="Name">The node's name.</param>
/// <param name="Address">The address other nodes reach it at.</param>
/// <param name="Interface">The network interface between nodes; null = MPICH's choice.</param>
public sealed record LocalNode(string Name, string Address, string? Interface);
