using Orchestrator.Contracts.Models;
using Orchestrator.Scheduler.Lifecycle;

namespace Orchestrator.Tests.Scheduler;

/// <summary>The progress rules the stall watch and <c>status</c> share.</summary>
public sealed class ProgressTrackerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);

    private static WorkerHeartbeat Beat(int rank, long step, int launch = 1) => new(launch, step, 100, 1, 0.1, 1000 + rank, rank);

    [Fact]
    public void An_evaluation_or_checkpoint_moves_the_stall_deadline_to_its_own_limit_and_past_it_is_a_stall_of_its_own()
    {
        var stall = TimeSpan.FromSeconds(2);
        var tracker = new ProgressTracker();
        tracker.Restart(T0);
        tracker.Record(Beat(0, 1), T0);
        tracker.Record(Beat(0, 2), T0 + TimeSpan.FromSeconds(1));
        Assert.Equal(T0 + TimeSpan.FromSeconds(3), tracker.Progress.Deadline(stall)); // training: the step deadline
        Assert.Equal("stalled: no step progress for 2 s", tracker.Progress.StallCause(stall));

        // Rank 1 has been evaluating for 4 s when its heartbeat arrives at T0 + 5 s: it started at T0 + 1 s.
        tracker.Record(Beat(1, 2) with { Activity = WorkerActivity.Evaluating, ActivitySeconds = 4 }, T0 + TimeSpan.FromSeconds(5));
        var busy = tracker.Progress;
        Assert.Equal(new Busy(WorkerActivity.Evaluating, T0 + TimeSpan.FromSeconds(1)), busy.BusyWith);
        Assert.Equal(T0 + TimeSpan.FromSeconds(1) + GangProgress.MinimumBusyLimit, busy.Deadline(stall));
        Assert.Equal("stalled: evaluating for more than 600 s", busy.StallCause(stall));
        Assert.Equal(TimeSpan.FromSeconds(1000), GangProgress.BusyLimit(TimeSpan.FromSeconds(100))); // 10 stall timeouts when longer

        // Back to training: the step deadline again.
        tracker.Record(Beat(1, 3), T0 + TimeSpan.FromSeconds(9));
        Assert.Null(tracker.Progress.BusyWith);
        Assert.Equal(T0 + TimeSpan.FromSeconds(11), tracker.Progress.Deadline(stall));
    }

    [Fact]
    public void The_step_clock_restarts_when_the_last_busy_rank_goes_back_to_training()
    {
        var stall = TimeSpan.FromSeconds(2);
        var tracker = new ProgressTracker();
        tracker.Restart(T0);
        tracker.Record(Beat(0, 32), T0);
        tracker.Record(Beat(1, 32), T0);
        tracker.Record(Beat(0, 32) with { Activity = WorkerActivity.Evaluating, ActivitySeconds = 0.5 }, T0 + TimeSpan.FromSeconds(1));
        tracker.Record(Beat(1, 32) with { Activity = WorkerActivity.Evaluating, ActivitySeconds = 0.5 }, T0 + TimeSpan.FromSeconds(1));

        // A 6 s evaluation ended on both ranks; their next heartbeats still show step 32 (the next step is under way).
        tracker.Record(Beat(0, 32) with { ActivitySeconds = 0.2 }, T0 + TimeSpan.FromSeconds(6.7));
        Assert.NotNull(tracker.Progress.BusyWith); // rank 1 is still seen evaluating
        tracker.Record(Beat(1, 32) with { ActivitySeconds = 0.1 }, T0 + TimeSpan.FromSeconds(6.8));
        var back = tracker.Progress;
        Assert.Null(back.BusyWith);
        // Not T0 + 2 s (the last step plus the timeout, long past): the clock runs from rank 1's return at T0 + 6.7 s.
        Assert.Equal(T0 + TimeSpan.FromSeconds(8.7), back.Deadline(stall));
        Assert.Equal("stalled: no step progress for 2 s", back.StallCause(stall));

        // Training heartbeats that never were busy do not move the clock, and a restart forgets the returns.
        tracker.Record(Beat(0, 32) with { ActivitySeconds = 0 }, T0 + TimeSpan.FromSeconds(20));
        Assert.Equal(T0 + TimeSpan.FromSeconds(8.7), tracker.Progress.Deadline(stall));
        tracker.Restart(T0 + TimeSpan.FromSeconds(30));
        tracker.Record(Beat(0, 40, launch: 2), T0 + TimeSpan.FromSeconds(31));
        Assert.Null(tracker.Progress.TrainingSince);
    }

    [Fact]
    public void A_gang_has_advanced_once_a_heartbeat_passes_its_first_step_and_a_restart_forgets_it()
    {
        var tracker = new ProgressTracker();
        tracker.Restart(T0);
        Assert.False(tracker.Advanced);
        tracker.Record(Beat(0, 40), T0); // resumed at step 40: not yet a step of this launch
        tracker.Record(Beat(1, 40), T0);
        Assert.False(tracker.Advanced);
        tracker.Record(Beat(1, 41), T0);
        Assert.True(tracker.Advanced);
        tracker.Restart(T0);
        Assert.False(tracker.Advanced);
    }

    [Fact]
    public void The_job_progresses_when_any_rank_passes_the_highest_step_and_a_lagging_rank_does_not_count()
    {
        var tracker = new ProgressTracker();
        tracker.Restart(T0);
        Assert.Equal(new GangProgress(T0, null), tracker.Progress);
        tracker.Record(Beat(0, 5), T0 + TimeSpan.FromSeconds(1));
        tracker.Record(Beat(1, 4), T0 + TimeSpan.FromSeconds(2)); // lags: no progress
        Assert.Equal(T0 + TimeSpan.FromSeconds(1), tracker.Progress.LastProgressAt);
        tracker.Record(Beat(1, 5), T0 + TimeSpan.FromSeconds(3)); // same step: newest heartbeat, not progress
        Assert.Equal((1, T0 + TimeSpan.FromSeconds(1)), (tracker.Newest!.Heartbeat.Rank, tracker.Newest.LastProgressAt));
        tracker.Record(Beat(1, 6), T0 + TimeSpan.FromSeconds(4));
        Assert.Equal(T0 + TimeSpan.FromSeconds(4), tracker.Progress.LastProgressAt);
        Assert.Equal([0, 1], tracker.Ranks(1, 2).Select(r => r.Heartbeat.Rank));
        Assert.Empty(tracker.Ranks(2, 2)); // another launch's ranks are not shown
        Assert.Single(tracker.Ranks(1, 1)); // nor ranks beyond the gang's size
    }

    [Fact]
    public void A_rank_progresses_per_launch()
    {
        var first = ProgressTracker.ForRank(null, Beat(0, 9), T0);
        var same = ProgressTracker.ForRank(first, Beat(0, 9), T0 + TimeSpan.FromSeconds(5));
        Assert.Equal(T0, same.LastProgressAt);
        var relaunched = ProgressTracker.ForRank(same, Beat(0, 3, launch: 2), T0 + TimeSpan.FromSeconds(6));
        Assert.Equal(T0 + TimeSpan.FromSeconds(6), relaunched.LastProgressAt);
    }

    [Fact]
    public void Deadlines_and_watch_periods()
    {
        Assert.Equal(T0 + GangProgress.StartupGrace, new GangProgress(T0, null).Deadline(TimeSpan.FromSeconds(10)));
        Assert.Equal(T0 + TimeSpan.FromSeconds(120), new GangProgress(T0, null).Deadline(TimeSpan.FromSeconds(120)));
        Assert.Equal(T0 + TimeSpan.FromSeconds(15), new GangProgress(T0, T0 + TimeSpan.FromSeconds(5)).Deadline(TimeSpan.FromSeconds(10)));
        Assert.Equal(TimeSpan.FromSeconds(1), GangProgress.WatchPeriod(TimeSpan.FromSeconds(120)));
        Assert.Equal(TimeSpan.FromSeconds(0.5), GangProgress.WatchPeriod(TimeSpan.FromSeconds(2)));
        Assert.Equal(TimeSpan.FromSeconds(0.25), GangProgress.WatchPeriod(TimeSpan.FromSeconds(0.1)));
        Assert.Equal(TimeSpan.FromSeconds(1), GangProgress.WatchPeriod(null));
    }
}
