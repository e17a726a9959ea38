using Orchestrator.Contracts.Models;
using Orchestrator.Scheduler.Grains;
using Orchestrator.Scheduler.Lifecycle;
using Orchestrator.Spec;
using E = Orchestrator.Scheduler.Lifecycle.JobEffect;
using V = Orchestrator.Scheduler.Lifecycle.JobEvent;

namespace Orchestrator.Tests.Scheduler;

/// <summary>The job lifecycle without Orleans and without processes: every event in the phases it matters in.</summary>
public sealed class JobLifecycleTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);

    private static JobSubmission Submission(int workers = 2, int maxRestarts = 2, TimeSpan? stall = null, string[]? firstArgs = null,
        WorkerCountRule? rule = null) =>
        new("name: demo\n", workers, maxRestarts, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3), StallTimeout: stall,
            FirstLaunchArguments: firstArgs, WorkerRule: rule);

    /// <summary>Applies events in order, like the grain: the decided state replaces the old one when persisted.</summary>
    private sealed class Job(string id = "demo")
    {
        public JobState State { get; private set; } = new();
        public List<JobEffect> Effects { get; } = [];

        public JobDecision On(JobEvent e, DateTimeOffset? at = null)
        {
            var decision = JobLifecycle.Decide(id, State, e, at ?? T0);
            if (decision.Effects.OfType<E.Persist>().Any()) State = decision.State;
            Effects.AddRange(decision.Effects);
            return decision;
        }

        /// <summary>Submitted, admitted, launch 1 started: Running.</summary>
        public static Job Running(JobSubmission? submission = null)
        {
            var job = new Job();
            job.On(new V.Submitted(submission ?? Submission()));
            job.On(new V.SlotsGranted());
            job.On(new V.GangStarted(1, 4242));
            return job;
        }
    }

    [Fact]
    public void Submission_stores_the_job_in_Pending_registers_it_and_asks_for_its_slots()
    {
        var job = new Job();
        var d = job.On(new V.Submitted(Submission(workers: 3)));
        Assert.Equal([typeof(E.Persist), typeof(E.Register), typeof(E.RequestSlots)], d.Effects.Select(e => e.GetType()));
        Assert.Equal(3, ((E.RequestSlots)d.Effects[2]).Workers);
        Assert.Equal((true, JobPhase.Pending, 3), (job.State.Submitted, job.State.Phase, job.State.Workers));
        Assert.Equal("submitted", Assert.Single(job.State.History).Note);
    }

    [Fact]
    public void Bad_submissions_and_unknown_jobs_are_refused_without_effects()
    {
        var job = new Job();
        Assert.Throws<ArgumentOutOfRangeException>(() => job.On(new V.Submitted(Submission(workers: 0))));
        Assert.Throws<ArgumentOutOfRangeException>(() => job.On(new V.Submitted(Submission(stall: TimeSpan.Zero))));
        Assert.Throws<ArgumentOutOfRangeException>(() => job.On(new V.Submitted(Submission(maxRestarts: -1))));
        Assert.Equal("unknown job 'demo'", Assert.Throws<InvalidOperationException>(() => job.On(new V.Cancelled())).Message);
        Assert.False(job.State.Submitted);
        Assert.Empty(job.Effects);
        job.On(new V.Submitted(Submission()));
        Assert.Equal("job 'demo' already exists (phase Pending)", Assert.Throws<InvalidOperationException>(() => job.On(new V.Submitted(Submission()))).Message);
    }

    [Fact]
    public void Granted_slots_launch_the_first_gang_with_the_first_launch_arguments_and_its_start_means_Running()
    {
        var job = new Job();
        job.On(new V.Submitted(Submission(firstArgs: ["--test-hook", "die-at=5:1"])));
        var launch = job.On(new V.SlotsGranted());
        Assert.Equal(JobPhase.Launching, job.State.Phase);
        var start = Assert.IsType<E.StartGang>(launch.Effects[1]);
        Assert.Equal((1, 2), (start.Launch, start.Workers));
        Assert.Equal(["--test-hook", "die-at=5:1"], start.ExtraArguments);
        var started = job.On(new V.GangStarted(1, 99));
        Assert.Equal((JobPhase.Running, 1), (job.State.Phase, job.State.Launches));
        Assert.Equal("2 workers started (launcher pid 99)", job.State.History[^1].Note);
        Assert.Equal([typeof(E.Persist), typeof(E.WatchGang), typeof(E.EnsureReminder)], started.Effects.Select(e => e.GetType()));
        Assert.False(((E.WatchGang)started.Effects[1]).Adopted);
    }

    [Fact]
    public void Refused_admission_and_a_failed_launch_end_the_job_Failed_with_the_reason()
    {
        var refused = new Job();
        refused.On(new V.Submitted(Submission()));
        refused.On(new V.NotAdmitted("9 workers exceed the 4 slots"));
        Assert.Equal((JobPhase.Failed, "not admitted: 9 workers exceed the 4 slots"), (refused.State.Phase, refused.State.FailureReason));

        var broken = new Job();
        broken.On(new V.Submitted(Submission()));
        broken.On(new V.SlotsGranted());
        var d = broken.On(new V.LaunchFailed(1, "mpirun.mpich not found"));
        Assert.Equal((JobPhase.Failed, "launch failed: mpirun.mpich not found", 1), (broken.State.Phase, broken.State.FailureReason, broken.State.Launches));
        Assert.Contains(d.Effects, e => e is E.ReleaseSlots);
    }

    [Fact]
    public void A_clean_exit_succeeds_and_gives_the_slots_back()
    {
        var job = Job.Running();
        var d = job.On(new V.GangExited(1, 0));
        Assert.Equal(JobPhase.Succeeded, job.State.Phase);
        Assert.Equal([typeof(E.Persist), typeof(E.StopWatch), typeof(E.ReleaseSlots)], d.Effects.Select(e => e.GetType()));
        Assert.True(job.On(new V.GangExited(1, 1)).IsNothing); // a late report of a finished job
    }

    [Fact]
    public void Failed_exits_restart_with_doubling_backoff_then_Fail_with_the_reason()
    {
        var job = Job.Running(Submission(maxRestarts: 2));
        var first = job.On(new V.GangExited(1, 137), T0);
        Assert.Equal((JobPhase.Launching, 1, T0 + TimeSpan.FromSeconds(1)), (job.State.Phase, job.State.Restarts, job.State.NextLaunchNotBefore));
        Assert.Equal("worker was killed by SIGKILL (exit code 137); restart 1 of 2", job.State.History[^1].Note);
        Assert.Equal(T0 + TimeSpan.FromSeconds(1), Assert.Single(first.Effects.OfType<E.ScheduleRelaunch>()).At);
        Assert.DoesNotContain(first.Effects, e => e is E.KillGang); // an exited gang needs no kill

        // The backoff passed: launch 2, without the first launch's arguments.
        var due = job.On(new V.RelaunchDue(GangRunsHere: false));
        Assert.Equal(2, Assert.IsType<E.StartGang>(Assert.Single(due.Effects)).Launch);
        job.On(new V.GangStarted(2, 5));
        Assert.True(job.On(new V.GangExited(1, 1)).IsNothing); // a stale report of launch 1 changes nothing
        job.On(new V.GangExited(2, 1), T0 + TimeSpan.FromSeconds(5));
        Assert.Equal((JobPhase.Launching, 2), (job.State.Phase, job.State.Restarts));
        Assert.Equal(T0 + TimeSpan.FromSeconds(7), job.State.NextLaunchNotBefore);

        job.On(new V.GangStarted(3, 1));
        var last = job.On(new V.GangExited(3, 9));
        Assert.Equal((JobPhase.Failed, "worker exited with code 9; restarts exhausted (2 of 2)"), (job.State.Phase, job.State.FailureReason));
        Assert.Contains(last.Effects, e => e is E.ReleaseSlots);
        Assert.Throws<InvalidOperationException>(() => job.On(new V.SlotsGranted()));
    }

    [Fact]
    public void A_user_error_fails_the_job_at_once_with_the_workers_own_error_as_the_reason()
    {
        var job = Job.Running(Submission(maxRestarts: 3));
        var d = job.On(new V.GangExited(1, ExitCause.UserError, new GangExitDetail(true, "training diverged at step 7")));
        Assert.Equal(JobPhase.Failed, job.State.Phase);
        Assert.Equal("worker failed with a user error (exit code 2): training diverged at step 7; not restarted (a user error repeats on every restart)",
            job.State.FailureReason);
        Assert.Equal(0, job.State.Restarts);
        Assert.Contains(d.Effects, e => e is E.ReleaseSlots);
        Assert.DoesNotContain(d.Effects, e => e is E.ScheduleRelaunch);
    }

    [Fact]
    public void The_same_failure_twice_before_the_first_step_fails_the_job_and_a_different_or_later_one_restarts()
    {
        var early = new GangExitDetail(Advanced: false, "Out of memory");
        var job = Job.Running(Submission(maxRestarts: 5));
        job.On(new V.GangExited(1, 137, early));
        Assert.Equal((JobPhase.Launching, 1), (job.State.Phase, job.State.Restarts)); // once may be bad luck

        job.On(new V.RelaunchDue(GangRunsHere: false));
        job.On(new V.GangStarted(2, 7));
        job.On(new V.GangExited(2, 1, early)); // another code: not the same failure
        job.On(new V.RelaunchDue(GangRunsHere: false));
        job.On(new V.GangStarted(3, 8));
        job.On(new V.GangExited(3, 1, new GangExitDetail(Advanced: true, "Out of memory"))); // it trained first: a fresh start
        Assert.Equal((JobPhase.Launching, 3), (job.State.Phase, job.State.Restarts));

        job.On(new V.RelaunchDue(GangRunsHere: false));
        job.On(new V.GangStarted(4, 9));
        job.On(new V.GangExited(4, 134, new GangExitDetail(false, "Out of memory")));
        Assert.Equal(JobPhase.Launching, job.State.Phase);
        job.On(new V.RelaunchDue(GangRunsHere: false));
        job.On(new V.GangStarted(5, 10));
        job.On(new V.GangExited(5, 134, new GangExitDetail(false, "Out of memory")));
        Assert.Equal(JobPhase.Failed, job.State.Phase);
        Assert.Equal("worker was killed by SIGABRT (exit code 134): Out of memory; failed the same way twice before its first step, not restarted again",
            job.State.FailureReason);
    }

    [Theory]
    [InlineData(1, "exited with code 1")]
    [InlineData(2, "failed with a user error (exit code 2)")]
    [InlineData(130, "was killed by SIGINT (exit code 130)")]
    [InlineData(137, "was killed by SIGKILL (exit code 137)")]
    [InlineData(143, "was killed by SIGTERM (exit code 143)")]
    [InlineData(200, "exited with code 200")]
    public void Exit_codes_are_described_in_words_with_signals_by_name(int code, string expected) =>
        Assert.Equal(expected, ExitCause.Describe(code));

    [Fact]
    public void A_relaunch_that_comes_due_after_a_cancel_or_with_a_gang_running_does_nothing()
    {
        var job = Job.Running();
        job.On(new V.GangExited(1, 1));
        Assert.True(job.On(new V.RelaunchDue(GangRunsHere: true)).IsNothing);
        job.On(new V.Cancelled());
        Assert.True(job.On(new V.RelaunchDue(GangRunsHere: false)).IsNothing);
    }

    [Fact]
    public void A_stall_is_judged_by_time_since_the_last_progress_with_a_startup_grace_and_kills_the_gang()
    {
        var stall = TimeSpan.FromSeconds(10);
        var job = Job.Running(Submission(stall: stall));
        var launched = new GangProgress(T0, null);
        // Before the first heartbeat the grace (60 s) applies, not the 10 s.
        Assert.True(job.On(new V.WatchTick(launched, null), T0 + TimeSpan.FromSeconds(59)).IsNothing);
        var beating = new GangProgress(T0, T0 + TimeSpan.FromSeconds(30));
        Assert.True(job.On(new V.WatchTick(beating, null), T0 + TimeSpan.FromSeconds(39)).IsNothing);
        var d = job.On(new V.WatchTick(beating, null), T0 + TimeSpan.FromSeconds(40));
        Assert.Equal((JobPhase.Launching, "stalled: no step progress for 10 s"), (job.State.Phase, job.State.FailureReason));
        Assert.Equal([typeof(E.Persist), typeof(E.KillGang), typeof(E.StopWatch), typeof(E.ScheduleRelaunch)], d.Effects.Select(e => e.GetType()));
        Assert.Equal(1, ((E.KillGang)d.Effects[1]).Launch);
        // After the gang is gone, further ticks only stop the watch.
        Assert.Equal([typeof(E.StopWatch)], job.On(new V.WatchTick(beating, null), T0 + TimeSpan.FromHours(1)).Effects.Select(e => e.GetType()));
    }

    [Fact]
    public void Without_a_stall_timeout_a_silent_gang_is_never_stalled()
    {
        var job = Job.Running(Submission(stall: null));
        Assert.True(job.On(new V.WatchTick(new GangProgress(T0, null), null), T0 + TimeSpan.FromDays(1)).IsNothing);
    }

    [Fact]
    public void A_rescale_resizes_first_stops_the_gang_through_heartbeats_and_relaunches_at_the_new_size_on_the_clean_exit()
    {
        var job = Job.Running(Submission(workers: 2));
        var d = job.On(new V.RescaleRequested(1));
        Assert.Equal([typeof(E.ResizeSlots), typeof(E.Persist)], d.Effects.Select(e => e.GetType()));
        Assert.Equal((JobPhase.Rescaling, 2, (int?)1, 1), (job.State.Phase, job.State.Workers, job.State.RequestedWorkers, job.State.Rescales));
        Assert.Equal(WorkerDirective.Stop, JobLifecycle.DirectiveFor(job.State, new WorkerHeartbeat(1, 5, 1, 1, 1, 1)));

        var relaunch = job.On(new V.GangExited(1, 0));
        Assert.Equal((JobPhase.Launching, 1, (int?)null), (job.State.Phase, job.State.Workers, job.State.RequestedWorkers));
        Assert.Equal("relaunch with 1 workers", job.State.History[^1].Note);
        var start = Assert.Single(relaunch.Effects.OfType<E.StartGang>());
        Assert.Equal((2, 1), (start.Launch, start.Workers));
        job.On(new V.GangStarted(2, 7));
        Assert.Equal(WorkerDirective.None, JobLifecycle.DirectiveFor(job.State, new WorkerHeartbeat(2, 6, 1, 1, 1, 1)));
        Assert.Equal(WorkerDirective.Stop, JobLifecycle.DirectiveFor(job.State, new WorkerHeartbeat(1, 6, 1, 1, 1, 1)));
        Assert.Equal(0, job.State.Restarts);
    }

    [Fact]
    public void A_gang_that_fails_while_rescaling_restarts_at_the_new_size_and_counts_a_restart()
    {
        var job = Job.Running(Submission(workers: 2));
        job.On(new V.RescaleRequested(1));
        job.On(new V.GangExited(1, 1));
        Assert.Equal((JobPhase.Launching, 1, 1, (int?)null), (job.State.Phase, job.State.Restarts, job.State.Workers, job.State.RequestedWorkers));
    }

    [Fact]
    public void Rescale_requests_that_cannot_work_are_refused_with_the_messages_users_see()
    {
        var rule = new WorkerCountRule(GlobalBatch: 64, GhostBatch: 0, SpecWorkers: 2, KeepWorkerBatch: false);
        var job = Job.Running(Submission(workers: 2, rule: rule));
        var before = job.State;
        Assert.Throws<ArgumentOutOfRangeException>(() => job.On(new V.RescaleRequested(0)));
        Assert.Equal("job 'demo' already runs on 2 workers (Parameter 'workers')", Assert.Throws<ArgumentException>(() => job.On(new V.RescaleRequested(2))).Message);
        Assert.StartsWith("cannot scale job 'demo' to 3 workers: training.global_batch: 64 does not split evenly over the 3 workers",
            Assert.Throws<ArgumentException>(() => job.On(new V.RescaleRequested(3))).Message);
        Assert.Same(before, job.State);

        var pending = new Job();
        pending.On(new V.Submitted(Submission()));
        Assert.Equal("job 'demo' is pending; only a running job can be scaled (try again once it runs)",
            Assert.Throws<InvalidOperationException>(() => pending.On(new V.RescaleRequested(1))).Message);
    }

    [Theory]
    [InlineData(0)] // Pending
    [InlineData(1)] // Launching
    [InlineData(2)] // Running
    [InlineData(3)] // Rescaling
    public void Cancel_works_from_every_unfinished_phase_kills_the_gang_and_releases_the_slots_and_not_twice(int steps)
    {
        var job = new Job();
        JobEvent[] path = [new V.Submitted(Submission()), new V.SlotsGranted(), new V.GangStarted(1, 1), new V.RescaleRequested(1)];
        foreach (var e in path.Take(steps + 1)) job.On(e);
        var from = job.State.Phase;
        var d = job.On(new V.Cancelled());
        Assert.Equal((JobPhase.Cancelled, from), (job.State.Phase, job.State.History[^1].From));
        Assert.Equal([typeof(E.Persist), typeof(E.KillGang), typeof(E.StopWatch), typeof(E.ReleaseSlots)], d.Effects.Select(e => e.GetType()));
        Assert.Equal("job 'demo' already cancelled; there is nothing to cancel", Assert.Throws<InvalidOperationException>(() => job.On(new V.Cancelled())).Message);
        Assert.True(job.On(new V.GangExited(job.State.Launches, 137)).IsNothing);
    }

    [Fact]
    public void Activation_after_failover_adopts_a_running_gang_and_takes_over_a_pending_restart()
    {
        var running = Job.Running();
        var adopt = running.On(new V.Activated(GangRunsHere: false));
        Assert.True(Assert.IsType<E.WatchGang>(Assert.Single(adopt.Effects)).Adopted);
        Assert.False(Assert.IsType<E.WatchGang>(Assert.Single(running.On(new V.Activated(GangRunsHere: true)).Effects)).Adopted);

        var restarting = Job.Running();
        restarting.On(new V.GangExited(1, 1), T0);
        var takeOver = Assert.IsType<E.ScheduleRelaunch>(Assert.Single(restarting.On(new V.Activated(GangRunsHere: false)).Effects));
        Assert.Equal((T0 + TimeSpan.FromSeconds(1), (int?)2), (takeOver.At, takeOver.KillStrayLaunch));

        var done = Job.Running();
        done.On(new V.GangExited(1, 0));
        Assert.True(done.On(new V.Activated(GangRunsHere: false)).IsNothing);
    }

    [Fact]
    public void An_adopted_gang_ends_through_its_exit_file_or_is_restarted_when_it_vanished()
    {
        var progress = new GangProgress(T0, T0);
        var exited = Job.Running();
        exited.On(new V.WatchTick(progress, new AdoptedGangReport.Exited(0)), T0);
        Assert.Equal(JobPhase.Succeeded, exited.State.Phase);

        var vanished = Job.Running();
        var d = vanished.On(new V.WatchTick(progress, new AdoptedGangReport.Vanished()), T0);
        Assert.Equal((JobPhase.Launching, "workers lost with their silo (no exit code recorded)"), (vanished.State.Phase, vanished.State.FailureReason));
        Assert.Contains(d.Effects, e => e is E.ScheduleRelaunch);

        var rescaling = Job.Running();
        rescaling.On(new V.RescaleRequested(1));
        rescaling.On(new V.WatchTick(progress, new AdoptedGangReport.Vanished()), T0);
        // Its code is unknown: relaunched at the new size, counted as a restart.
        Assert.Equal((JobPhase.Launching, 1, 1), (rescaling.State.Phase, rescaling.State.Restarts, rescaling.State.Workers));

        var alive = Job.Running(Submission(stall: TimeSpan.FromSeconds(5)));
        Assert.True(alive.On(new V.WatchTick(progress, new AdoptedGangReport.Alive()), T0 + TimeSpan.FromSeconds(4)).IsNothing);
        var stalled = alive.On(new V.WatchTick(progress, new AdoptedGangReport.Alive()), T0 + TimeSpan.FromSeconds(5));
        Assert.Contains(stalled.Effects, e => e is E.KillGang);
    }

    [Fact]
    public void A_lost_node_fails_the_current_launch_like_a_dead_gang_and_kills_what_is_left()
    {
        var job = Job.Running(Submission(maxRestarts: 0));
        var d = job.On(new V.NodeLost("node-b"));
        Assert.Equal((JobPhase.Failed, "node node-b lost; restarts exhausted (0 of 0)"), (job.State.Phase, job.State.FailureReason));
        Assert.Contains(d.Effects, e => e is E.KillGang);
        Assert.True(job.On(new V.NodeLost("node-b")).IsNothing);

        // Every silo may report the same loss: a job already relaunching ignores the repeats (no second restart counted).
        var restarting = Job.Running(Submission(maxRestarts: 3));
        restarting.On(new V.NodeLost("node-b"));
        Assert.Equal((JobPhase.Launching, 1), (restarting.State.Phase, restarting.State.Restarts));
        Assert.True(restarting.On(new V.NodeLost("node-b")).IsNothing);
        Assert.Equal(1, restarting.State.Restarts);
    }

    [Fact]
    public void The_node_that_started_the_gang_is_recorded_for_a_silo_that_takes_the_job_over()
    {
        var job = Job.Running(Submission(maxRestarts: 3));
        job.On(new V.NodeLost("node-b"));
        job.On(new V.RelaunchDue(false), T0 + TimeSpan.FromSeconds(30));
        job.On(new V.GangStarted(2, 77, "node-c"));
        Assert.Equal((JobPhase.Running, "node-c"), (job.State.Phase, job.State.LaunchNode));
        Assert.EndsWith("(launcher pid 77 on node-c)", job.State.History[^1].Note);
    }

    [Fact]
    public void A_relaunch_whose_gang_fits_nowhere_now_waits_pending_and_launches_when_slots_come_back()
    {
        var job = Job.Running(Submission(maxRestarts: 3));
        job.On(new V.NodeLost("node-b"));
        var wait = job.On(new V.WaitingForCapacity("the gang needs 2 ranks; the 1 live node have 1 free slot"));
        Assert.Equal(JobPhase.Pending, job.State.Phase);
        Assert.Contains("waiting for capacity: the gang needs 2 ranks", job.State.History[^1].Note);
        Assert.Contains(wait.Effects, e => e is E.Persist);
        var granted = job.On(new V.SlotsGranted());
        Assert.Equal(JobPhase.Launching, job.State.Phase);
        Assert.Contains(granted.Effects, e => e is E.StartGang);
    }

    [Fact]
    public void A_job_that_opted_into_shrinking_goes_on_with_fewer_workers_after_a_node_loss_within_its_floor_and_batch_rule()
    {
        var rule = new WorkerCountRule(96, 0, 4, KeepWorkerBatch: false);
        var job = Job.Running(Submission(workers: 4, maxRestarts: 3, rule: rule) with { ShrinkFloor = 2 });
        job.On(new V.NodeLost("node-b"));

        Assert.Throws<ArgumentOutOfRangeException>(() => job.On(new V.Shrunk(1, "x"))); // below the floor
        Assert.Throws<ArgumentOutOfRangeException>(() => job.On(new V.Shrunk(4, "x"))); // not smaller
        Assert.Equal(4, job.State.Workers);

        var d = job.On(new V.Shrunk(3, "the live nodes hold 3 of its 4 workers"));
        Assert.Contains(d.Effects, e => e is E.Persist);
        Assert.Equal((JobPhase.Launching, 3), (job.State.Phase, job.State.Workers));
        Assert.Equal("shrink 4 -> 3 workers: the live nodes hold 3 of its 4 workers", job.State.History[^1].Note);
        job.On(new V.GangStarted(2, 77, "node-c"));
        Assert.Equal((JobPhase.Running, 3), (job.State.Phase, job.State.Workers));

        // A count the batch does not split over is refused; a job that did not opt in never shrinks.
        var odd = Job.Running(Submission(workers: 4, maxRestarts: 3, rule: new WorkerCountRule(64, 0, 4, KeepWorkerBatch: false)) with { ShrinkFloor = 1 });
        odd.On(new V.NodeLost("node-b"));
        Assert.Throws<ArgumentOutOfRangeException>(() => odd.On(new V.Shrunk(3, "x"))); // 64 does not split over 3
        var fixedSize = Job.Running(Submission(workers: 4, maxRestarts: 3));
        fixedSize.On(new V.NodeLost("node-b"));
        Assert.Throws<InvalidOperationException>(() => fixedSize.On(new V.Shrunk(2, "x")));
        // Cancelled before the shrink arrived: nothing changes.
        var cancelled = Job.Running(Submission(workers: 4, maxRestarts: 3) with { ShrinkFloor = 1 });
        cancelled.On(new V.NodeLost("node-b"));
        cancelled.On(new V.Cancelled());
        Assert.True(cancelled.On(new V.Shrunk(2, "x")).IsNothing);
    }

    [Fact]
    public void Heartbeats_of_unknown_final_or_older_launches_are_told_to_stop_and_do_not_count()
    {
        var beat = new WorkerHeartbeat(1, 3, 100, 1, 0.1, 1);
        Assert.Equal(WorkerDirective.Stop, JobLifecycle.DirectiveFor(new JobState(), beat));
        var job = Job.Running();
        Assert.Equal(WorkerDirective.None, JobLifecycle.DirectiveFor(job.State, beat));
        Assert.True(JobLifecycle.IsCurrent(job.State, beat));
        Assert.False(JobLifecycle.IsCurrent(job.State, beat with { Launch = 0 }));
        job.On(new V.GangExited(1, 0));
        Assert.Equal(WorkerDirective.Stop, JobLifecycle.DirectiveFor(job.State, beat));
    }

    [Fact]
    public void Decisions_never_change_the_state_they_were_given()
    {
        var job = Job.Running();
        var before = job.State;
        var history = before.History.Count;
        var d = JobLifecycle.Decide("demo", before, new V.GangExited(1, 1), T0);
        Assert.NotSame(before, d.State);
        Assert.Equal((JobPhase.Running, history, 0), (before.Phase, before.History.Count, before.Restarts));
    }
}
