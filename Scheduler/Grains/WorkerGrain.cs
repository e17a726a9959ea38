using Orchestrator.Contracts.Grains;
using Orchestrator.Contracts.Models;
using Orchestrator.Scheduler.Lifecycle;

namespace Orchestrator.Scheduler.Grains;

/// <summary>
/// One rank of a job (see <see cref="IWorkerGrain"/>): keeps the newest heartbeat in memory (a heartbeat a second is
/// not worth a write) and forwards every heartbeat to the job grain, returning its directive.
/// </summary>
public sealed class WorkerGrain(TimeProvider clock) : Grain, IWorkerGrain
{
    private HeartbeatInfo? last;

    /// <inheritdoc />
    public async Task<WorkerDirective> HeartbeatAsync(WorkerHeartbeat heartbeat)
    {
        ArgumentNullException.ThrowIfNull(heartbeat);
        var (jobId, rank) = IWorkerGrain.ParseKey(this.GetPrimaryKeyString());
        if (heartbeat.Rank != rank)
            throw new ArgumentException($"worker grain '{jobId}/{rank}' got a heartbeat of rank {heartbeat.Rank}", nameof(heartbeat));
        last = ProgressTracker.ForRank(last, heartbeat, clock.GetUtcNow());
        return await GrainFactory.GetGrain<IJobGrain>(jobId).HeartbeatAsync(heartbeat);
    }

    /// <inheritdoc />
    public Task<HeartbeatInfo?> GetLastHeartbeatAsync() => Task.FromResult(last);
}
