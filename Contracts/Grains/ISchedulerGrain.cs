using System.Collections.Immutable;
using Orchestrator.Contracts.Models;
using Orchestrator.Spec;

namespace Orchestrator.Contracts.Grains;

/// <summary>
/// Gang admission against the worker slots of the cluster's live nodes: a job starts only when all of its workers can be
/// placed at once, and waiting jobs start in strict FIFO order. One per cluster, key <see cref="DefaultKey"/> (tests may use
/// other keys for isolated schedulers). Every change is persisted before the method returns.
/// </summary>
[Alias("orchestrator.ISchedulerGrain.v1")]
public interface ISchedulerGrain : IGrainWithStringKey
{
    /// <summary>The key of the cluster's scheduler.</summary>
    const string DefaultKey = "default";

    /// <summary>
    /// Asks for <paramref name="workers"/> slots for <paramref name="jobId"/>, placed by <paramref name="placement"/> (null =
    /// defaults): Granted when they fit and nobody waits ahead, Queued otherwise. Asking again for a known job answers its
    /// current standing. Throws <see cref="ArgumentOutOfRangeException"/> when the live nodes could never hold the gang.
    /// </summary>
    [Alias("Enqueue")]
    Task<AdmissionResult> EnqueueAsync(string jobId, int workers, PlacementSpec? placement = null);

    /// <summary>The job's grant (with its nodes) while it holds slots; null otherwise.</summary>
    [Alias("GetGrant")]
    Task<SlotGrant?> GetGrantAsync(string jobId);

    /// <summary>
    /// A silo registers the node it offers (at start). A node of the same name registered by a silo that is no longer an
    /// active member is replaced (the machine restarted); a live one is refused with <see cref="ArgumentException"/>, as is
    /// another live node with the same address. Returns the queued jobs that now start.
    /// </summary>
    [Alias("RegisterNode")]
    Task<ImmutableArray<SlotGrant>> RegisterNodeAsync(NodeInfo node);

    /// <summary>
    /// Cluster membership changed (a silo joined, left or died): re-admits from the queue and reports the queued jobs that now
    /// start and the running gangs with ranks on dead nodes.
    /// </summary>
    [Alias("NodesChanged")]
    Task<NodeChange> NodesChangedAsync();

    /// <summary>
    /// Before a relaunch: the job's grant as it is when all its nodes live; placed anew over the live nodes when some died; or,
    /// when they cannot hold the gang now, placed with the largest of <paramref name="smaller"/> worker counts they can hold
    /// (a job that shrinks on node loss), or none (the job waits first in the queue at its size). Throws
    /// <see cref="InvalidOperationException"/> when the job holds no slots.
    /// </summary>
    [Alias("PlaceAnewIfDisplaced")]
    Task<Replacement> PlaceAnewIfDisplacedAsync(string jobId, int[]? smaller = null);

    /// <summary>Frees the job's slots (or drops it from the queue) and returns the queued jobs that now start, in order.</summary>
    [Alias("Release")]
    Task<ImmutableArray<SlotGrant>> ReleaseAsync(string jobId);

    /// <summary>
    /// Resizes a running job's grant to <paramref name="workers"/> slots (a rescale) and returns the queued jobs that now
    /// start. Throws <see cref="ArgumentOutOfRangeException"/> when the growth does not fit the free slots (nothing changes).
    /// </summary>
    [Alias("Resize")]
    Task<ImmutableArray<SlotGrant>> ResizeAsync(string jobId, int workers);

    /// <summary>Changes the total slot count (persisted; overrides configuration) and returns the queued jobs that now start.</summary>
    [Alias("SetCapacity")]
    Task<ImmutableArray<SlotGrant>> SetCapacityAsync(int slots);

    /// <summary>Current capacity, grants and queue.</summary>
    [Alias("GetSnapshot")]
    Task<SchedulerSnapshot> GetSnapshotAsync();
}
