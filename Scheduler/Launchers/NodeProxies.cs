using System.Collections.Concurrent;
using System.Diagnostics;

namespace Orchestrator.Scheduler.Launchers;

/// <summary>
/// The Hydra proxies this node runs for gangs launched elsewhere (the node side of "launch without SSH"): each is started
/// without a shell, in a process group of its own, its output appended to the job's <c>logs/node-NAME.log</c> with the node's
/// name in front; its exit code is kept for the waiting <c>node-exec</c>; a job's proxies (and their ranks) are killed on
/// cancel, rescale or node teardown. No Orleans types: the node agent grain is its thin front.
/// </summary>
/// <param name="nodeName">This node's name (log prefix and file name).</param>
/// <param name="environment">Variables every proxy gets (e.g. <c>UCX_NET_DEVICES</c> of this node); null = none.</param>
/// <param name="dedicatedJob">The one job this node was made for (a Kubernetes worker pod); null = any job placed on it.</param>
public sealed class NodeProxies(string nodeName, IReadOnlyDictionary<string, string>? environment = null, string? dedicatedJob = null) : IDisposable
{
    /// <summary>The one job this node runs proxies of (a Kubernetes worker pod made for it); null = jobs placed on it by the scheduler.</summary>
    public string? DedicatedJob { get; } = dedicatedJob;

    private readonly ConcurrentDictionary<int, Entry> proxies = new();

    // Exit codes of proxies that ended, kept so that a wait repeated after its answer was lost (the waiting node-exec's
    // gateway died on the way back) gets the same code instead of "no such proxy". One int per proxy ever started.
    private readonly ConcurrentDictionary<int, int> exitCodes = new();

    /// <summary>This node's name.</summary>
    public string NodeName { get; } = nodeName;

    /// <summary>The proxy output file of <paramref name="runDirectory"/> on this node.</summary>
    public string LogPath(string runDirectory) => Path.Combine(runDirectory, "logs", $"node-{NodeName}.log");

    /// <summary>Starts <paramref name="argv"/> (Hydra's proxy, already checked) for launch <paramref name="launch"/> of the job; returns its process id.</summary>
    /// <exception cref="LaunchException">It could not be started.</exception>
    public int Start(string jobId, int launch, IReadOnlyList<string> argv, string runDirectory)
    {
        ArgumentNullException.ThrowIfNull(argv);
        var logPath = LogPath(runDirectory);
        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        var setsid = File.Exists(LocalMpiOptions.SetsidPath);
        var start = new ProcessStartInfo(setsid ? LocalMpiOptions.SetsidPath : argv[0])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = runDirectory,
        };
        foreach (var arg in setsid ? argv : argv.Skip(1)) start.ArgumentList.Add(arg);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        var log = new StreamWriter(new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        log.WriteLine($"# {DateTimeOffset.UtcNow:O} node {NodeName}: job {jobId} launch {launch}: {string.Join(' ', argv)}");
        var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            log.WriteLine($"# could not start {argv[0]}: {e.Message}");
            log.Dispose();
            process.Dispose();
            throw new LaunchException($"node {NodeName} could not start {argv[0]}: {e.Message} (is mpich installed there? apt-get install -y mpich)", e);
        }
        var group = new LoggedProcessGroup(process, log, setsid, $"[{NodeName}] ");
        exitCodes.TryRemove(group.ProcessId, out _); // a reused process id
        proxies[group.ProcessId] = new Entry(jobId, launch, group);
        return group.ProcessId;
    }

    /// <summary>
    /// The proxy's exit code once it ends within <paramref name="timeout"/>; null while it runs. Only reads: waiting again
    /// for a proxy that ended gives its code again, so a caller may retry a wait whose answer it did not get.
    /// </summary>
    /// <exception cref="KeyNotFoundException">No proxy with that id was started here.</exception>
    public async Task<int?> WaitAsync(int processId, TimeSpan timeout)
    {
        if (exitCodes.TryGetValue(processId, out var known)) return known;
        if (!proxies.TryGetValue(processId, out var entry))
            throw new KeyNotFoundException($"node {NodeName} runs no proxy with process id {processId}");
        var done = await Task.WhenAny(entry.Group.Exited, Task.Delay(timeout)).ConfigureAwait(false);
        if (done != entry.Group.Exited) return null;
        var code = await entry.Group.Exited.ConfigureAwait(false);
        exitCodes[processId] = code;
        if (proxies.TryRemove(processId, out _)) entry.Group.Dispose();
        return code;
    }

    /// <summary>Kills every proxy of <paramref name="jobId"/> (with its ranks); returns how many ran.</summary>
    public async Task<int> KillJobAsync(string jobId)
    {
        var victims = proxies.Where(p => p.Value.JobId == jobId).ToList();
        foreach (var (pid, entry) in victims)
        {
            await entry.Group.KillAsync().ConfigureAwait(false);
            proxies.TryRemove(pid, out _);
            entry.Group.Dispose();
        }
        return victims.Count;
    }

    /// <summary>Jobs and launches with a proxy running here.</summary>
    public IReadOnlyList<(string JobId, int Launch, int ProcessId)> Running =>
        [.. proxies.Where(p => !p.Value.Group.Exited.IsCompleted).Select(p => (p.Value.JobId, p.Value.Launch, p.Key))];

    /// <summary>Kills every proxy (the node's silo stops): no orphaned ranks.</summary>
    public void Dispose()
    {
        foreach (var (_, entry) in proxies) entry.Group.Dispose();
        proxies.Clear();
    }

    private sealed record Entry(string JobId, int Launch, LoggedProcessGroup Group);
}
