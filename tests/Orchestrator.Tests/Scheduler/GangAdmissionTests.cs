using Orchestrator.Scheduler.Admission;

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
        Assert.Contains("asks for 5 workers but the capacity is 4 slots", error.Message);
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
        Assert.Throws<ArgumentOutOfRangeException>(() => admission.Resize("a", 5));
        Assert.Throws<InvalidOperationException>(() => admission.Resize("c", 2)); // queued, not running
        Assert.Equal(["a", "b"], admission.Running.Select(r => r.JobId));

        var started = admission.Resize("a", 1);

        Assert.Equal(["c"], started.Select(r => r.JobId));
        Assert.Equal([("a", 1), ("b", 2), ("c", 1)], admission.Running.Select(r => (r.JobId, r.Workers)));
        Assert.Equal(0, admission.Free);
    }
}
