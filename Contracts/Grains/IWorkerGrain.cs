using System.Globalization;
using Orchestrator.Contracts.Models;

namespace Orchestrator.Contracts.Grains;

/// <summary>
/// One rank of a job (key <c>job/rank</c>, see <see cref="Key"/>): every rank of a launched gang heartbeats its own
/// worker grain about once a second; the grain keeps the rank's newest heartbeat and forwards it to the job grain
/// (stall detection, <c>status</c>, the silo's metrics). The reply is the job grain's directive; only rank 0's is
/// applied (it broadcasts it to every rank over MPI at a step boundary). In memory only: nothing is persisted.
/// </summary>
[Alias("orchestrator.IWorkerGrain.v1")]
public interface IWorkerGrain : IGrainWithStringKey
{
    /// <summary>The key of rank <paramref name="rank"/> of job <paramref name="jobId"/>: <c>job/rank</c>.</summary>
    static string Key(string jobId, int rank)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        return $"{jobId}/{rank.ToString(CultureInfo.InvariantCulture)}";
    }

    /// <summary>The job name and rank of a key made by <see cref="Key"/>; throws <see cref="ArgumentException"/> for any other string.</summary>
    static (string JobId, int Rank) ParseKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        int slash = key.LastIndexOf('/');
        if (slash <= 0 || !int.TryParse(key.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int rank))
            throw new ArgumentException($"worker grain key '{key}' is not 'job/rank'", nameof(key));
        return (key[..slash], rank);
    }

    /// <summary>
    /// The rank reports progress (its <see cref="WorkerHeartbeat.Rank"/> must match the key). Kept as the rank's newest
    /// heartbeat and forwarded to the job grain, whose directive is returned.
    /// </summary>
    [Alias("Heartbeat")]
    Task<WorkerDirective> HeartbeatAsync(WorkerHeartbeat heartbeat);

    /// <summary>The rank's newest heartbeat since the grain was activated; null before the first.</summary>
    [Alias("GetLastHeartbeat")]
    Task<HeartbeatInfo?> GetLastHeartbeatAsync();
}
