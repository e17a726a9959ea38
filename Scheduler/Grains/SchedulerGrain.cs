using System.Collections.Immutable;
using Microsoft.Extensions.Options;
using Orchestrator.Contracts;
using Orchestrator.Contracts.Grains;
using Orchestrator.Contracts.Models;
using Orchestrator.Scheduler.Admission;

namespace Orchestrator.Scheduler.Grains;

/// <summary>
/// Gang admission for the cluster (see <see cref="ISchedulerGrain"/>): each call rebuilds a
/// <see cref="GangAdmission"/> from persisted state, applies one operation, writes the result and only
/// then answers. A rejected request (too many workers, bad capacity) changes nothing.
/// </summary>
public sealed class SchedulerGrain(
    [PersistentState("scheduler", StorageNames.Scheduler)] IPersistentState<SchedulerState> state,
    IOptions<SchedulerOptions> options,
    ActiveStoredStateGrains active) : StoredStateGrain(active), ISchedulerGrain
{
    /// <inheritdoc />
    public override Task<bool> WriteBackIfLostAsync() => StateWriteBack.WriteBackIfLostAsync(state, "scheduler");

    /// <inheritdoc />
    public async Task<AdmissionResult> EnqueueAsync(string jobId, int workers)
    {
        var admission = Load();
        var decision = admission.Enqueue(jobId, workers);
        await SaveAsync(admission);
        return new AdmissionResult(decision.Granted ? AdmissionOutcome.Granted : AdmissionOutcome.Queued, decision.QueuePosition, admission.Free);
    }

    /// <inheritdoc />
    public async Task<ImmutableArray<SlotGrant>> ReleaseAsync(string jobId)
    {
        var admission = Load();
        var started = admission.Release(jobId);
        await SaveAsync(admission);
        return [.. started.Select(ToGrant)];
    }

    /// <inheritdoc />
    public async Task<ImmutableArray<SlotGrant>> ResizeAsync(string jobId, int workers)
    {
        var admission = Load();
        var started = admission.Resize(jobId, workers);
        await SaveAsync(admission);
        return [.. started.Select(ToGrant)];
    }

    /// <inheritdoc />
    public async Task<ImmutableArray<SlotGrant>> SetCapacityAsync(int slots)
    {
        var admission = Load();
        var started = admission.SetCapacity(slots);
        await SaveAsync(admission);
        return [.. started.Select(ToGrant)];
    }

    /// <inheritdoc />
    public Task<SchedulerSnapshot> GetSnapshotAsync()
    {
        var admission = Load();
        return Task.FromResult(new SchedulerSnapshot(
            admission.Capacity, admission.Free,
            [.. admission.Running.Select(ToGrant)], [.. admission.Queue.Select(ToGrant)]));
    }

    private GangAdmission Load()
    {
        var s = state.State;
        var capacity = s.Capacity > 0 ? s.Capacity : options.Value.WorkerSlots;
        return new GangAdmission(
            capacity,
            s.Running.Select(g => new GangRequest(g.JobId, g.Workers)),
            s.Queue.Select(g => new GangRequest(g.JobId, g.Workers)));
    }

    private async Task SaveAsync(GangAdmission admission)
    {
        await StateWriteBack.WriteAsync(state, new SchedulerState
        {
            Capacity = admission.Capacity,
            Running = [.. admission.Running.Select(ToGrant)],
            Queue = [.. admission.Queue.Select(ToGrant)],
        }, "scheduler");
    }

    private static SlotGrant ToGrant(GangRequest r) => new(r.JobId, r.Workers);
}
