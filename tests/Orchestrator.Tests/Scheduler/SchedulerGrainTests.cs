using System.Collections.Immutable;
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

        var first = await scheduler.EnqueueAsync("first", 3);
        Assert.Equal((AdmissionOutcome.Granted, 0, 1, "local:3"), (first.Outcome, first.QueuePosition, first.FreeSlots, Nodes(first.Nodes)));
        var second = await scheduler.EnqueueAsync("second", 3);
        Assert.Equal((AdmissionOutcome.Queued, 1, 1, ""), (second.Outcome, second.QueuePosition, second.FreeSlots, Nodes(second.Nodes)));

        var started = await scheduler.ReleaseAsync("first");
        Assert.Equal(["second:3@local:3"], started.Select(Text));
        var snapshot = await scheduler.GetSnapshotAsync();
        Assert.Equal(["second:3@local:3"], snapshot.Running.Select(Text));
        Assert.Equal("second:3@local:3", Text((await scheduler.GetGrantAsync("second"))!));
        Assert.Null(await scheduler.GetGrantAsync("first"));
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
        Assert.Contains("the cluster's 4 slots could never hold the gang", error.Message);
        var snapshot = await scheduler.GetSnapshotAsync();
        Assert.Equal(["a:2@local:2"], snapshot.Running.Select(Text));
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
        Assert.Equal(["a:4@local:4"], snapshot.Running.Select(Text));
        Assert.Equal(["b:2@"], snapshot.Queue.Select(Text));
        Assert.Equal(["b"], (await scheduler.SetCapacityAsync(6)).Select(g => g.JobId));
    }

    private NodeInfo Node(string name, string address, int slots, int silo) => new(name, address, slots, 0, ["zone=a"],
        silo < 0 ? "10.9.9.9:11111@1" : fixture.Cluster.Silos[silo].SiloAddress.ToParsableString(), $"{address}:30000");

    [Fact]
    public async Task Registered_nodes_replace_the_implicit_one_and_gangs_are_placed_on_live_nodes_only()
    {
        var scheduler = FreshScheduler();
        await scheduler.EnqueueAsync("early", 2); // on the implicit node: it moves to the first node registered
        await scheduler.RegisterNodeAsync(Node("m1", "10.0.0.1", 2, 0));
        await scheduler.RegisterNodeAsync(Node("m2", "10.0.0.2", 4, 1));
        await scheduler.RegisterNodeAsync(Node("gone", "10.0.0.3", 8, -1)); // its silo is not a member: dead

        await fixture.Cluster.DeactivateAsync(scheduler); // the nodes survive in storage (JSON), labels included
        var snapshot = await scheduler.GetSnapshotAsync();
        Assert.Equal(["zone=a"], snapshot.Nodes[0].Node.Labels.ToArray());
        Assert.Equal(6, snapshot.Capacity);
        Assert.Equal(["early:2@m1:2"], snapshot.Running.Select(Text));
        Assert.Equal([("m1", 2, true, "early"), ("m2", 0, true, ""), ("gone", 0, false, "")],
            snapshot.Nodes.Select(n => (n.Node.Name, n.Used, n.Alive, string.Join(',', n.Jobs))));

        var big = await scheduler.EnqueueAsync("big", 4);
        Assert.Equal("m2:4", Nodes(big.Nodes));
        var refused = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => scheduler.EnqueueAsync("huge", 7));
        Assert.Contains("down: gone", refused.Message);
        await Assert.ThrowsAsync<InvalidOperationException>(() => scheduler.SetCapacityAsync(9));
    }

    [Fact]
    public async Task A_live_node_name_or_address_cannot_be_registered_twice_but_a_dead_one_is_taken_over()
    {
        var scheduler = FreshScheduler();
        await scheduler.RegisterNodeAsync(Node("m1", "10.0.0.1", 2, 0));
        var name = await Assert.ThrowsAsync<ArgumentException>(() => scheduler.RegisterNodeAsync(Node("m1", "10.0.0.5", 2, 1)));
        Assert.Contains("node name 'm1' is already taken by the live silo", name.Message);
        var address = await Assert.ThrowsAsync<ArgumentException>(() => scheduler.RegisterNodeAsync(Node("m2", "10.0.0.1", 2, 1)));
        Assert.Contains("node address 10.0.0.1 is already registered by the live node 'm1'", address.Message);

        await scheduler.RegisterNodeAsync(Node("m3", "10.0.0.3", 2, -1));
        await scheduler.RegisterNodeAsync(Node("m3", "10.0.0.3", 3, 1)); // the machine came back with a new silo
        var snapshot = await scheduler.GetSnapshotAsync();
        Assert.Equal([("m1", 2, true), ("m3", 3, true)], snapshot.Nodes.Select(n => (n.Node.Name, n.Node.Slots, n.Alive)));
    }

    [Fact]
    public async Task A_worker_pod_node_of_one_job_is_listed_but_is_not_capacity_and_is_dropped_once_gone()
    {
        var scheduler = FreshScheduler();
        var running = await scheduler.EnqueueAsync("k8s-job", 2); // admitted against the configured slots (no machine nodes)
        Assert.Equal(AdmissionOutcome.Granted, running.Outcome);
        NodeInfo Pod(string name, string address, int silo) => Node(name, address, 1, silo) with { Labels = ["orchestrator/job=k8s-job"] };
        await scheduler.RegisterNodeAsync(Pod("k8s-job-w0", "10.1.0.1", 0));
        await scheduler.RegisterNodeAsync(Pod("k8s-job-w1", "10.1.0.2", -1)); // its silo is gone

        var snapshot = await scheduler.GetSnapshotAsync();
        Assert.Equal(ClusterFixture.WorkerSlots, snapshot.Capacity); // still the configured slots, not the pods'
        Assert.Equal(["k8s-job:2@local:2"], snapshot.Running.Select(Text)); // not moved onto a pod
        Assert.Equal([("k8s-job-w0", true, "k8s-job"), ("k8s-job-w1", false, "k8s-job")],
            snapshot.Nodes.Select(n => (n.Node.Name, n.Alive, string.Join(',', n.Jobs))));
        Assert.Equal(AdmissionOutcome.Granted, (await scheduler.EnqueueAsync("other", 1)).Outcome); // placed on the slots, not a pod
        Assert.DoesNotContain((await scheduler.GetGrantAsync("other"))!.Nodes, n => n.Node.StartsWith("k8s-job", StringComparison.Ordinal));

        await scheduler.RegisterNodeAsync(Pod("k8s-job-w2", "10.1.0.3", 1)); // the next registration drops the dead pod's node
        Assert.Equal(["k8s-job-w0", "k8s-job-w2"], (await scheduler.GetSnapshotAsync()).Nodes.Select(n => n.Node.Name));
    }

    private static string Nodes(IEnumerable<NodeRanks> nodes) => string.Join(',', nodes.Select(n => $"{n.Node}:{n.Ranks}"));

    private static string Text(SlotGrant grant) => $"{grant.JobId}:{grant.Workers}@{Nodes(grant.Nodes)}";
}
