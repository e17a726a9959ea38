using System.Diagnostics;
using Orchestrator.Trainer.Collectives;

namespace Orchestrator.Tests.Collectives;

/// <summary>The communication thread of overlap: order, drain, time hidden before the drain, failures.</summary>
public sealed class BucketWorkerTests
{
    [Fact]
    public void Jobs_run_one_at_a_time_in_posting_order_on_another_thread()
    {
        using var worker = new BucketWorker("test");
        var seen = new List<(int Job, int Thread)>();
        for (int j = 0; j < 20; j++)
        {
            int job = j;
            worker.Post(() => { lock (seen) seen.Add((job, Environment.CurrentManagedThreadId)); });
        }
        worker.Drain(Stopwatch.GetTimestamp());
        Assert.Equal(Enumerable.Range(0, 20), seen.Select(s => s.Job));
        Assert.All(seen, s => Assert.NotEqual(Environment.CurrentManagedThreadId, s.Thread));
        Assert.Single(seen.Select(s => s.Thread).Distinct());
    }

    [Fact]
    public void Work_done_before_the_drain_began_counts_as_hidden()
    {
        using var worker = new BucketWorker("test");
        using var finished = new ManualResetEventSlim();
        long posted = Stopwatch.GetTimestamp();
        worker.Post(() => { Thread.Sleep(50); finished.Set(); });
        finished.Wait(); // the caller's own work (the rest of the backward) outlasts the job, however late it was scheduled
        long waitFrom = Stopwatch.GetTimestamp();
        worker.Post(() => Thread.Sleep(50)); // posted at the drain: nothing of it is hidden
        double hidden = worker.Drain(waitFrom);
        Assert.InRange(hidden, 0.045, (double)(waitFrom - posted) / Stopwatch.Frequency);
        Assert.Equal(0, worker.Drain(Stopwatch.GetTimestamp())); // counted once
    }

    [Fact]
    public void A_failed_job_drops_the_jobs_behind_it_and_fails_the_drain()
    {
        using var worker = new BucketWorker("test");
        bool ranAfter = false;
        using var hold = new ManualResetEventSlim();
        worker.Post(() => hold.Wait());
        worker.Post(() => throw new IOException("peer gone"));
        worker.Post(() => ranAfter = true);
        hold.Set();
        var error = Assert.Throws<InvalidOperationException>(() => worker.Drain(Stopwatch.GetTimestamp()));
        Assert.Contains("peer gone", error.Message);
        Assert.False(ranAfter);
        worker.Post(() => ranAfter = true); // the next step starts clean
        worker.Drain(Stopwatch.GetTimestamp());
        Assert.True(ranAfter);
    }
}
