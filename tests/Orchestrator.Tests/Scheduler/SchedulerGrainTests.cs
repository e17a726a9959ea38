using Orchestrator.Contracts.Grains;
using Orchestrator.Contracts.Models;

namespace Orchestrator.Tests.Scheduler;

[Collection(ClusterCollection.Name)]
public sealed class SchedulerGrainTests(ClusterFixture fixture)
{
    private ISchedulerGrain FreshScheduler() => fixture.Client.GetGrain<ISchedulerGrain>(ClusterFixture.FreshKey("sched"));

    [Fact]
    public async Task A_second_gang_that_does_not_fit_queues_and_starts_when_the_first_releases()
    {
        var scheduler = FreshScheduler();
        Assert.Equal(ClusterFixture.WorkerSlots, (await scheduler.GetSnapshotAsync()).Capacity);

        Assert.Equal(new AdmissionResult(AdmissionOutcome.Granted, 0, 1), await scheduler.EnqueueAsync("first", 3));
        Assert.Equal(new AdmissionResult(AdmissionOutcome.Queued, 1, 1), await scheduler.EnqueueAsync("second", 3));

        var started = await scheduler.ReleaseAsync("first");
        Assert.Equal<SlotGrant>([new SlotGrant("second", 3)], started);
        var snapshot = await scheduler.GetSnapshotAsync();
        Assert.Equal<SlotGrant>([new SlotGrant("second", 3)], snapshot.Running);
        Assert.Empty(snapshot.Queue);
        Assert.Equal(1, snapshot.FreeSlots);
    }

    [Fact]
    public async Task Queued_jobs_start_in_FIFO_order_and_a_big_head_blocks_smaller_ones()
    {
        var scheduler = FreshScheduler();
        await scheduler.EnqueueAsync("a", 3);
        Assert.Equal(1, (await scheduler.EnqueueAsync("big", 4)).QueuePosition);
        Assert.Equal(2, (await scheduler.EnqueueAsync("small-1", 1)).QueuePosition);
        Assert.Equal(3, (await scheduler.EnqueueAsync("small-2", 1)).QueuePosition);

        Assert.Equal(["big"], (await scheduler.ReleaseAsync("a")).Select(g => g.JobId));
        Assert.Equal(["small-1", "small-2"], (await scheduler.ReleaseAsync("big")).Select(g => g.JobId));
    }

    [Fact]
    public async Task A_job_larger_than_capacity_is_rejected_and_nothing_changes()
    {
        var scheduler = FreshScheduler();
        await scheduler.EnqueueAsync("a", 2);
        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => scheduler.EnqueueAsync("huge", 5));
        Assert.Contains("capacity is 4 slots", error.Message);
        var snapshot = await scheduler.GetSnapshotAsync();
        Assert.Equal<SlotGrant>([new SlotGrant("a", 2)], snapshot.Running);
        Assert.Empty(snapshot.Queue);
    }

    [Fact]
    public async Task Grants_queue_and_capacity_survive_deactivation()
    {
        var scheduler = FreshScheduler();
        await scheduler.SetCapacityAsync(5);
        await scheduler.EnqueueAsync("a", 4);
        await scheduler.EnqueueAsync("b", 2);

        await fixture.Cluster.DeactivateAsync(scheduler);

        var snapshot = await scheduler.GetSnapshotAsync();
        Assert.Equal(5, snapshot.Capacity);
        Assert.Equal<SlotGrant>([new SlotGrant("a", 4)], snapshot.Running);
        Assert.Equal<SlotGrant>([new SlotGrant("b", 2)], snapshot.Queue);
        Assert.Equal(["b"], (await scheduler.SetCapacityAsync(6)).Select(g => g.JobId));
    }
}
