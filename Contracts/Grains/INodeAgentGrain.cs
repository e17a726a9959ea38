using System.Collections.Immutable;

namespace Orchestrator.Contracts.Grains;

/// <summary>
/// A node's agent: starts the Hydra proxies of gangs placed on the node (what <c>ssh</c> does for other MPI launchers), on
/// the node's own silo. Key: the parsable silo address of the node's silo (<see cref="Models.NodeInfo.Silo"/>); the grain is
/// activated on that silo only, so a call to a dead node's agent fails instead of starting anything elsewhere.
/// </summary>
[Alias("orchestrator.INodeAgentGrain.v1")]
public interface INodeAgentGrain : IGrainWithStringKey
{
    /// <summary>
    /// Starts Hydra's proxy for launch <paramref name="launch"/> of <paramref name="jobId"/>: <paramref name="words"/> are the
    /// words Hydra's <c>rsh</c> launcher gave after the host. Refused (<see cref="InvalidOperationException"/>) unless the job's
    /// current gang is that launch and its placement includes this node, and the command is Hydra's proxy. Returns the
    /// proxy's process id.
    /// </summary>
    [Alias("StartProxy")]
    Task<int> StartProxyAsync(string jobId, int launch, ImmutableArray<string> words);

    /// <summary>The proxy's exit code when it ends within <paramref name="timeout"/>; null while it runs. Changes nothing, so a
    /// caller that lost the answer may ask again (an ended proxy's code is given again).</summary>
    [Alias("WaitProxy")]
    Task<int?> WaitProxyAsync(int processId, TimeSpan timeout);

    /// <summary>Kills a gang this node's silo started and supervises (found by its exit-code file), for a job grain that took the
    /// job over on another silo; returns how many supervisors were found.</summary>
    [Alias("KillGang")]
    Task<int> KillGangAsync(string exitCodePath);

    /// <summary>Kills every proxy (and rank) of <paramref name="jobId"/> on this node; returns how many ran.</summary>
    [Alias("KillJob")]
    Task<int> KillJobAsync(string jobId);
}
