using Orchestrator.Scheduler.Admission;
using Orchestrator.Spec;

namespace Orchestrator.Tests.Scheduler;

public sealed class GangAdmissionTests
{
    // Each row: capacity, then operations "+job:workers" (enqueue) or "-job" (release), then the
    // expected outcome of each operation: G (granted), Q<n> (queued at n), or the started jobs "[a,b]".
    [Theory]
    [InlineData(4, "+a:3 +b:3 -a", "G Q1 [b]")]
    [InlineData(4, "+a:4 +b:1 +c:1 -a", "G Q1 Q2 [b,c]")]
    [InlineData(4, "+a:2 +b:2 +c:1", "G G Q1")]
    // Strict FIFO: a big head blocks a small job that would fit.
    [InlineData(4, "+a:3 +big:4 +small:1 -a", "G Q1 Q2 [big]")]
    [InlineData(4, "+a:3 +big:4 +small:1 -a -big", "G Q1 Q2 [big] [small]")]
    // A new job queues behind waiting ones even when it would fit.
    [InlineData(4, "+a:2 +b:3 +c:2", "G Q1 Q2")]
    // Dropping a queued head unblocks those behind it.
    [InlineData(4, "+a:3 +b:4 +c:1 -b", "G Q1 Q2 [c]")]
    // Releasing an unknown job changes nothing; enqueue is idempotent.
    [InlineData(4, "-nobody +a:2 +a:2", "[] G G")]
    [InlineData(2, "+a:2 +b:1 +b:1", "G Q1 Q1")]
    // Several start at once, in order, while they fit.
    [InlineData(8, "+a:8 +b:2 +c:3 +d:4 -a", "G Q1 Q2 Q3 [b,c]")]
    public void Admits_whole_gangs_in_fifo_order(int capacity, string operations, string expected)
    {
        var admission = new GangAdmission(capacity);
        var outcomes = new List<string>();
        foreach (var op in operations.Split(' '))
        {
            if (op[0] == '+')
            {
                var parts = op[1..].Split(':');
                var d = admission.Enqueue(parts[0], int.Parse(parts[1]));
                outcomes.Add(d.Granted ? "G" : $"Q{d.QueuePosition}");
            }
            else
                outcomes.Add($"[{string.Join(',', admission.Release(op[1..]).Select(r => r.JobId))}]");
        }
        Assert.Equal(expected, string.Join(' ', outcomes));
        Assert.InRange(admission.Used, 0, capacity);
        Assert.Equal(capacity - admission.Used, admission.Free);
    }

    [Fact]
    public void A_job_larger_than_the_capacity_is_rejected_with_a_clear_error_and_nothing_changes()
    {
        var admission = new GangAdmission(4);
        admission.Enqueue("a", 1);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => admission.Enqueue("huge", 5));
        Assert.Contains("asks for 5 workers but the cluster's 4 slots could never hold the gang", error.Message);
        Assert.Equal(["a"], admission.Running.Select(r => r.JobId));
        Assert.Empty(admission.Queue);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void Zero_or_negative_workers_are_rejected(int workers) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new GangAdmission(4).Enqueue("a", workers));

    [Fact]
    public void The_same_job_with_another_worker_count_is_rejected()
    {
        var admission = new GangAdmission(4);
        admission.Enqueue("a", 2);
        Assert.Throws<ArgumentException>(() => admission.Enqueue("a", 3));
    }

    [Fact]
    public void Raising_the_capacity_starts_queued_jobs_and_lowering_below_a_need_is_rejected()
    {
        var admission = new GangAdmission(4);
        admission.Enqueue("a", 3);
        admission.Enqueue("b", 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => admission.SetCapacity(2));
        Assert.Equal(4, admission.Capacity);
        Assert.Equal(["b"], admission.SetCapacity(7).Select(r => r.JobId));
        Assert.Equal(0, admission.Free);
    }

    [Fact]
    public void Rebuilding_from_state_rejects_grants_beyond_capacity() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new GangAdmission(2, [new("a", 2), new("b", 1)]));

    [Fact]
    public void Resizing_a_running_gang_needs_free_slots_to_grow_and_a_shrink_starts_queued_jobs()
    {
        var admission = new GangAdmission(4);
        admission.Enqueue("a", 2);
        admission.Enqueue("b", 2);
        admission.Enqueue("c", 1);
        var grow = Assert.Throws<ArgumentOutOfRangeException>(() => admission.Resize("a", 3));
        Assert.Contains("needs 1 more slots and 0 of 4 are free", grow.Message);
        Assert.Contains("the gang needs 3 ranks", grow.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => admission.Resize("a", 5));
        Assert.Throws<InvalidOperationException>(() => admission.Resize("c", 2)); // queued, not running
        Assert.Equal(["a", "b"], admission.Running.Select(r => r.JobId));

        var started = admission.Resize("a", 1);

        Assert.Equal(["c"], started.Select(r => r.JobId));
        Assert.Equal([("a", 1), ("b", 2), ("c", 1)], admission.Running.Select(r => (r.JobId, r.Workers)));
        Assert.Equal(0, admission.Free);
    }

    private static readonly AdmissionNode[] ThreeNodes = [new("n1", 2), new("n2", 2), new("n3", 4)];

    [Fact]
    public void Gangs_are_placed_over_nodes_and_a_gang_fits_only_where_whole_shares_are_free()
    {
        var admission = new GangAdmission(ThreeNodes, []);
        Assert.Equal("n3:4", admission.Enqueue("a", 4).Placement!.ToString());
        Assert.Equal("n1:2", admission.Enqueue("b", 2).Placement!.ToString());
        // 2 slots are free (n2), but 2 ranks per node over 2 nodes are asked for: it waits.
        var spread = admission.Enqueue("c", 2, new PlacementSpec(1, PlacementPolicy.Spread));
        Assert.False(spread.Granted);
        Assert.Equal(2, admission.Free);
        Assert.Equal(["c"], admission.Release("b").Select(g => g.JobId));
        Assert.Equal("n1:1,n2:1", admission.Running.Single(g => g.JobId == "c").Placement.ToString());
        Assert.Equal([4, 1, 1], new[] { "n3", "n1", "n2" }.Select(admission.UsedOn));
    }

    [Fact]
    public void A_dead_node_takes_its_slots_away_displaces_its_gangs_and_a_replacement_goes_to_live_nodes_or_waits_first_in_line()
    {
        var admission = new GangAdmission(ThreeNodes, []);
        admission.Enqueue("a", 4);            // n3
        admission.Enqueue("b", 2);            // n1
        admission.Enqueue("c", 4);            // waits
        admission.SetNodes([ThreeNodes[0], ThreeNodes[1], ThreeNodes[2] with { Alive = false }]);
        Assert.Equal(4, admission.Capacity);
        Assert.Equal(["a"], admission.Displaced.Select(g => g.JobId));

        var replacement = admission.Replace("a");
        Assert.Null(replacement.Replaced); // 4 ranks do not fit the 2 free slots of n2: a waits ahead of c
        Assert.Empty(replacement.Started);
        Assert.Contains("the gang needs 4 ranks", replacement.Shortfall);
        IReadOnlyList<GangGrant> started;
        Assert.Equal(["a", "c"], admission.Queue.Select(q => q.JobId));

        started = admission.Release("b");
        Assert.Equal(["a"], started.Select(g => g.JobId));
        Assert.Equal("n1:2,n2:2", started[0].Placement.ToString());
        Assert.Equal(["c"], admission.SetNodes(ThreeNodes).Select(g => g.JobId)); // n3 is back: c starts there
    }

    [Fact]
    public void A_gang_that_shrinks_on_node_loss_takes_the_largest_accepted_count_the_live_nodes_hold()
    {
        var admission = new GangAdmission(ThreeNodes, []);
        admission.Enqueue("a", 4);            // n3
        admission.Enqueue("b", 1);            // n1
        admission.SetNodes([ThreeNodes[0], ThreeNodes[1], ThreeNodes[2] with { Alive = false }]);

        // 3 slots are free (n1 1, n2 2); the job accepts 2 or 1 (say its batch does not split over 3): 2 it is.
        var replacement = admission.Replace("a", [2, 1]);

        Assert.NotNull(replacement.Replaced);
        Assert.Equal(2, replacement.Replaced!.Value.Workers);
        Assert.Equal("n2:2", replacement.Replaced.Value.Placement.ToString());
        Assert.Equal([("a", 2), ("b", 1)], admission.Running.Select(r => (r.JobId, r.Workers)).Order());
        Assert.Empty(admission.Queue);
    }

    [Fact]
    public void A_shrinking_gang_whose_smallest_count_does_not_fit_waits_at_its_full_size_naming_what_the_whole_gang_lacks()
    {
        var admission = new GangAdmission(ThreeNodes, []);
        admission.Enqueue("a", 4);                 // n3
        admission.Enqueue("b", 2);                 // n1
        admission.Enqueue("c", 2);                 // n2
        admission.SetNodes([ThreeNodes[0], ThreeNodes[1], ThreeNodes[2] with { Alive = false }]);

        var replacement = admission.Replace("a", [3, 2]); // nothing is free

        Assert.Null(replacement.Replaced);
        Assert.Contains("the gang needs 4 ranks", replacement.Shortfall);
        Assert.Equal([("a", 4)], admission.Queue.Select(q => (q.JobId, q.Workers)));
        // Counts not below the gang's size, or below 1, are ignored rather than granted.
        var other = new GangAdmission(ThreeNodes, []);
        other.Enqueue("d", 2);
        other.SetNodes([ThreeNodes[0] with { Alive = false }, ThreeNodes[1], ThreeNodes[2]]);
        Assert.Equal(2, other.Replace("d", [5, 0, -1]).Replaced!.Value.Workers);
    }

    [Fact]
    public void A_gang_the_live_nodes_could_never_hold_is_refused_naming_the_shortfall()
    {
        var admission = new GangAdmission(ThreeNodes, []);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => admission.Enqueue("huge", 9));
        Assert.Contains("the gang needs 9 ranks; the 3 live nodes have 8 free slots (n1 2 free of 2, n2 2 free of 2, n3 4 free of 4)", error.Message);
        error = Assert.Throws<ArgumentOutOfRangeException>(() => admission.Enqueue("wide", 6, new PlacementSpec(3, PlacementPolicy.Pack)));
        Assert.Contains("placement.ranks_per_node 3 needs 2 nodes with 3 free slots each (1 have them)", error.Message);
        Assert.Empty(admission.Running);
        Assert.Empty(admission.Queue);
    }

    [Fact]
    public void Rebuilding_from_state_rejects_grants_on_unknown_nodes_and_duplicate_nodes()
    {
        Assert.Throws<ArgumentException>(() => new GangAdmission(ThreeNodes,
            [new GangGrant(new GangRequest("a", 1), new Orchestrator.Scheduler.Placement.GangPlacement([new("n9", 1)]))]));
        Assert.Throws<ArgumentException>(() => new GangAdmission([new("n1", 1), new("n1", 2)], []));
    }
}
