using Orchestrator.Contracts.Models;
using Orchestrator.Scheduler.Grains;

namespace Orchestrator.Scheduler.Lifecycle;

/// <summary>
/// The job lifecycle as pure code: <see cref="Decide"/> takes the job's state, an event and the time and returns the new
/// state plus the effects to carry out (persist, request or release slots, start, kill or watch a gang, schedule a
/// restart). No Orleans calls, no processes, no clock: the job grain feeds events and carries out the effects.
/// Phases: Pending -> Launching -> Running -> (Rescaling -> Launching) -> Succeeded | Failed | Cancelled
/// (<see cref="JobTransitions"/>); a failed launch restarts after the <see cref="RestartPolicy"/>'s backoff until it
/// runs out. A move the table forbids throws <see cref="InvalidOperationException"/> and changes nothing.
/// </summary>
public static class JobLifecycle
{
    /// <summary>The exit code a gang that vanished without recording one is treated as (128 + SIGKILL).</summary>
    public const int KilledExitCode = 137;

    /// <summary>The decision for <paramref name="e"/> on job <paramref name="jobId"/> in <paramref name="state"/> at <paramref name="now"/>.</summary>
    /// <exception cref="InvalidOperationException">An unknown job, a duplicate submission, or a move the phase does not allow.</exception>
    /// <exception cref="ArgumentException">A request the job cannot take (bad worker count, policy, rescale target).</exception>
    public static JobDecision Decide(string jobId, JobState state, JobEvent e, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(e);
        if (e is not JobEvent.Submitted && !state.Submitted)
            throw new InvalidOperationException($"unknown job '{jobId}'");
        var next = state.Copy();
        var effects = new List<JobEffect>();
        var decision = new Builder(jobId, next, effects, now);
        switch (e)
        {
            case JobEvent.Submitted submitted: decision.Submit(submitted.Submission); break;
            case JobEvent.SlotsGranted: decision.Launch(); break;
            case JobEvent.NotAdmitted refused: decision.Fail($"not admitted: {refused.Reason}"); break;
            case JobEvent.GangStarted started: decision.Started(started.Launch, started.ProcessId, started.Node); break;
            case JobEvent.LaunchFailed failed: decision.LaunchFailed(failed.Launch, failed.Reason); break;
            case JobEvent.GangExited exited: decision.Exited(exited.Launch, exited.ExitCode, exited.Detail ?? GangExitDetail.Unknown); break;
            case JobEvent.WatchTick tick: decision.Watch(tick.Progress, tick.Adopted); break;
            case JobEvent.RescaleRequested rescale: decision.Rescale(rescale.Workers); break;
            case JobEvent.Cancelled: decision.Cancel(); break;
            case JobEvent.Activated activated: decision.Activate(activated.GangRunsHere); break;
            case JobEvent.RelaunchDue due: decision.RelaunchDue(due.GangRunsHere); break;
            case JobEvent.NodeLost lost: decision.NodeLost(lost.Node); break;
            case JobEvent.WaitingForCapacity waiting: decision.WaitForCapacity(waiting.Reason); break;
            case JobEvent.Shrunk shrunk: decision.Shrink(shrunk.Workers, shrunk.Reason); break;
            default: throw new ArgumentOutOfRangeException(nameof(e), e, "unknown job event");
        }
        return new JobDecision(effects.Count == 0 ? state : next, effects);
    }

    /// <summary>The directive a heartbeat of <paramref name="heartbeat"/>'s launch gets: Stop for a gang nobody runs any more
    /// (unknown or final job, an older launch) and for a job that is rescaling (it stops at a checkpoint); None otherwise.</summary>
    public static WorkerDirective DirectiveFor(JobState state, WorkerHeartbeat heartbeat)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(heartbeat);
        if (!state.Submitted || JobTransitions.IsTerminal(state.Phase) || heartbeat.Launch != state.Launches)
            return WorkerDirective.Stop;
        return state.Phase == JobPhase.Rescaling ? WorkerDirective.Stop : WorkerDirective.None;
    }

    /// <summary>Whether heartbeats of <paramref name="heartbeat"/>'s launch feed the progress watch.</summary>
    public static bool IsCurrent(JobState state, WorkerHeartbeat heartbeat) =>
        state.Submitted && !JobTransitions.IsTerminal(state.Phase) && heartbeat.Launch == state.Launches;

    private sealed class Builder(string jobId, JobState s, List<JobEffect> effects, DateTimeOffset now)
    {
        public void Submit(JobSubmission submission)
        {
            ArgumentNullException.ThrowIfNull(submission);
            if (s.Submitted)
                throw new InvalidOperationException($"job '{jobId}' already exists (phase {s.Phase})");
            if (submission.StallTimeout is { } stall && stall <= TimeSpan.Zero)
                throw new ArgumentOutOfRangeException(nameof(submission), stall, $"job '{jobId}': the stall timeout must be positive, not {stall}");
            if (submission.Workers < 1)
                throw new ArgumentOutOfRangeException(nameof(submission), submission.Workers, $"job '{jobId}' needs at least 1 worker, not {submission.Workers}");
            var policy = new RestartPolicy(submission.MaxRestarts, submission.RestartBaseDelay, submission.RestartMaxDelay); // validates
            s.Submitted = true;
            s.SpecYaml = submission.SpecYaml;
            s.Phase = JobPhase.Pending;
            s.Workers = submission.Workers;
            s.MaxRestarts = policy.MaxRestarts;
            s.RestartBaseDelay = policy.BaseDelay;
            s.RestartMaxDelay = policy.MaxDelay;
            s.OutputDirectory = submission.OutputDirectory;
            s.StallTimeout = submission.StallTimeout;
            s.FirstLaunchArguments = submission.FirstLaunchArguments ?? [];
            s.WorkerRule = submission.WorkerRule;
            s.Placement = submission.Placement;
            s.ShrinkFloor = submission.ShrinkFloor;
            s.History.Add(new JobTransition(JobPhase.Pending, JobPhase.Pending, now, "submitted"));
            effects.Add(new JobEffect.Persist());
            effects.Add(new JobEffect.Register());
            effects.Add(new JobEffect.RequestSlots(s.Workers));
        }

        /// <summary>Slots granted (or a rescale's clean stop): to Launching with the requested size, and start the gang.</summary>
        public void Launch()
        {
            var note = s.Phase == JobPhase.Rescaling && s.RequestedWorkers is int n ? $"relaunch with {n} workers" : null;
            Move(JobPhase.Launching, note);
            if (s.RequestedWorkers is int workers)
                s.Workers = workers;
            s.RequestedWorkers = null;
            s.NextLaunchNotBefore = null;
            effects.Add(new JobEffect.Persist());
            effects.Add(StartNextGang());
        }

        public void Started(int launch, int processId, string? node)
        {
            Move(JobPhase.Running, $"{s.Workers} workers started (launcher pid {processId}{(node is null ? "" : $" on {node}")})");
            s.Launches = launch;
            s.LaunchNode = node;
            s.NextLaunchNotBefore = null;
            effects.Add(new JobEffect.Persist());
            effects.Add(new JobEffect.WatchGang(Adopted: false));
            effects.Add(new JobEffect.EnsureReminder());
        }

        public void LaunchFailed(int launch, string reason)
        {
            s.Launches = launch;
            Fail($"launch failed: {reason}");
            effects.Add(new JobEffect.ReleaseSlots());
        }

        public void Exited(int launch, int exitCode, GangExitDetail detail)
        {
            if (launch != s.Launches || JobTransitions.IsTerminal(s.Phase))
                return; // a gang torn down and replaced, or a late report of a job that already ended
            if (s.Phase == JobPhase.Rescaling && exitCode == 0)
            {
                effects.Add(new JobEffect.StopWatch());
                Launch(); // the gang stopped at a checkpoint: relaunch with the new count now
                return;
            }
            if (exitCode == 0)
            {
                Move(JobPhase.Succeeded, "all workers exited with code 0");
                effects.Add(new JobEffect.Persist());
                effects.Add(new JobEffect.StopWatch());
                effects.Add(new JobEffect.ReleaseSlots());
                return;
            }
            var cause = $"worker {ExitCause.Describe(exitCode)}" + (detail.Errors is { } errors ? $": {errors}" : "");
            // Retrying cannot fix what the user must: a user error, or the same failure before any step, twice.
            if (exitCode == ExitCause.UserError)
            {
                FailForGood($"{cause}; not restarted (a user error repeats on every restart)", kill: false);
                return;
            }
            var signature = $"{exitCode}|{detail.Errors}";
            if (!detail.Advanced && s.EarlyFailure == signature)
            {
                FailForGood($"{cause}; failed the same way twice before its first step, not restarted again", kill: false);
                return;
            }
            s.EarlyFailure = detail.Advanced ? null : signature;
            LaunchLost(cause, kill: false);
        }

        public void Watch(GangProgress progress, AdoptedGangReport? adopted)
        {
            if (s.Phase is not (JobPhase.Running or JobPhase.Rescaling))
            {
                effects.Add(new JobEffect.StopWatch()); // ended or relaunched meanwhile: nothing left to watch
                return;
            }
            switch (adopted)
            {
                case AdoptedGangReport.Exited exited:
                    effects.Add(new JobEffect.StopWatch());
                    Exited(s.Launches, exited.ExitCode, exited.Detail ?? GangExitDetail.Unknown);
                    return;
                case AdoptedGangReport.Vanished when s.Phase == JobPhase.Running:
                    effects.Add(new JobEffect.StopWatch());
                    LaunchLost("workers lost with their silo (no exit code recorded)", kill: false);
                    return;
                case AdoptedGangReport.Vanished:
                    effects.Add(new JobEffect.StopWatch());
                    Exited(s.Launches, KilledExitCode, GangExitDetail.Unknown); // a rescale's stop without a code: relaunched at the new size, as a restart
                    return;
            }
            // An adopted gang is judged stalled only while Running (a rescaling one is about to stop anyway).
            if (s.StallTimeout is not { } stall || (adopted is not null && s.Phase != JobPhase.Running)) return;
            if (now < progress.Deadline(stall)) return;
            LaunchLost(progress.StallCause(stall), kill: true);
        }

        public void Rescale(int workers)
        {
            if (workers < 1)
                throw new ArgumentOutOfRangeException(nameof(workers), workers, $"cannot scale job '{jobId}' to {workers} workers; at least 1 is needed");
            if (JobTransitions.IsTerminal(s.Phase))
                throw new InvalidOperationException($"job '{jobId}' already {s.Phase.ToString().ToLowerInvariant()}; only a running job can be scaled");
            if (s.Phase != JobPhase.Running)
                throw new InvalidOperationException($"job '{jobId}' is {s.Phase.ToString().ToLowerInvariant()}; only a running job can be scaled (try again once it runs)");
            if (workers == s.Workers)
                throw new ArgumentException($"job '{jobId}' already runs on {workers} workers", nameof(workers));
            if (s.WorkerRule?.Reject(workers) is { } rejected)
                throw new ArgumentException($"cannot scale job '{jobId}' to {workers} workers: {rejected}", nameof(workers));
            Move(JobPhase.Rescaling, $"rescale {s.Workers} -> {workers} workers");
            s.RequestedWorkers = workers;
            s.Rescales++;
            effects.Add(new JobEffect.ResizeSlots(workers)); // the slots first: a growth that does not fit is refused before anything is stored
            effects.Add(new JobEffect.Persist());
        }

        public void Cancel()
        {
            if (JobTransitions.IsTerminal(s.Phase))
                throw new InvalidOperationException($"job '{jobId}' already {s.Phase.ToString().ToLowerInvariant()}; there is nothing to cancel");
            Move(JobPhase.Cancelled, "cancelled by the user");
            s.RequestedWorkers = null;
            s.NextLaunchNotBefore = null;
            effects.Add(new JobEffect.Persist());
            effects.Add(new JobEffect.KillGang(s.Launches));
            effects.Add(new JobEffect.StopWatch());
            effects.Add(new JobEffect.ReleaseSlots());
        }

        public void Activate(bool gangRunsHere)
        {
            if (s.Phase is JobPhase.Running or JobPhase.Rescaling)
                effects.Add(new JobEffect.WatchGang(Adopted: !gangRunsHere)); // heartbeats resume within seconds; the clock restarts
            else if (s.Phase == JobPhase.Launching && !gangRunsHere)
                // A launch (or a restart waiting for its backoff) was under way on a silo that died: relaunch here when due,
                // after killing a gang of that launch that may have started without Running being stored.
                effects.Add(new JobEffect.ScheduleRelaunch(s.NextLaunchNotBefore ?? now, KillStrayLaunch: s.Launches + 1));
        }

        public void RelaunchDue(bool gangRunsHere)
        {
            if (s.Phase != JobPhase.Launching || gangRunsHere) return; // cancelled meanwhile, or already relaunched
            effects.Add(StartNextGang());
        }

        public void NodeLost(string node)
        {
            // Launching: a restart is already on its way (and is placed on live nodes); every silo may report the same loss.
            if (s.Phase is not (JobPhase.Running or JobPhase.Rescaling)) return;
            LaunchLost($"node {node} lost", kill: true);
        }

        public void WaitForCapacity(string reason)
        {
            if (s.Phase != JobPhase.Launching) return; // cancelled or relaunched meanwhile
            Move(JobPhase.Pending, $"waiting for capacity: {reason}");
            s.NextLaunchNotBefore = null;
            effects.Add(new JobEffect.Persist());
            effects.Add(new JobEffect.StopWatch());
        }

        public void Shrink(int workers, string reason)
        {
            if (s.Phase != JobPhase.Launching) return; // cancelled meanwhile
            if (s.ShrinkFloor is not int floor)
                throw new InvalidOperationException($"job '{jobId}' did not opt into shrinking on node loss (scaling.on_node_loss)");
            if (workers < floor || workers >= s.Workers || s.WorkerRule?.Reject(workers) is not null)
                throw new ArgumentOutOfRangeException(nameof(workers), workers,
                    $"job '{jobId}' cannot shrink from {s.Workers} to {workers} workers (scaling.min_workers {floor})");
            s.History.Add(new JobTransition(s.Phase, s.Phase, now, $"shrink {s.Workers} -> {workers} workers: {reason}"));
            s.Workers = workers;
            effects.Add(new JobEffect.Persist());
        }

        /// <summary>The current launch failed: restart per the policy (back to Launching after a backoff) or Failed.</summary>
        private void LaunchLost(string cause, bool kill)
        {
            if (s.Phase is not (JobPhase.Running or JobPhase.Launching or JobPhase.Rescaling))
                throw new InvalidOperationException(
                    $"illegal job transition {s.Phase} -> {JobPhase.Launching}: a failed exit restarts only a Launching, Running or Rescaling job");
            var policy = new RestartPolicy(s.MaxRestarts, s.RestartBaseDelay, s.RestartMaxDelay);
            var launch = s.Launches;
            if (!policy.CanRestart(s.Restarts))
            {
                FailForGood($"{cause}; restarts exhausted ({s.Restarts} of {s.MaxRestarts})", kill);
                return;
            }
            var attempt = s.Restarts + 1;
            Move(JobPhase.Launching, $"{cause}; restart {attempt} of {s.MaxRestarts}");
            var notBefore = now + policy.Delay(attempt);
            s.Restarts = attempt;
            s.FailureReason = cause;
            s.NextLaunchNotBefore = notBefore;
            if (s.RequestedWorkers is int workers) // a gang that failed while rescaling restarts at the new size
                s.Workers = workers;
            s.RequestedWorkers = null;
            effects.Add(new JobEffect.Persist());
            if (kill) effects.Add(new JobEffect.KillGang(launch)); // the whole process group; a killed gang's exit is not reported
            effects.Add(new JobEffect.StopWatch());
            effects.Add(new JobEffect.ScheduleRelaunch(notBefore));
        }

        /// <summary>Failed for good: the gang (when <paramref name="kill"/>) and the slots go, nothing is relaunched.</summary>
        private void FailForGood(string reason, bool kill)
        {
            if (s.Phase is not (JobPhase.Running or JobPhase.Launching or JobPhase.Rescaling))
                throw new InvalidOperationException($"illegal job transition {s.Phase} -> {JobPhase.Failed}");
            Fail(reason);
            if (kill) effects.Add(new JobEffect.KillGang(s.Launches));
            effects.Add(new JobEffect.StopWatch());
            effects.Add(new JobEffect.ReleaseSlots());
        }

        public void Fail(string reason)
        {
            Move(JobPhase.Failed, reason);
            s.FailureReason = reason;
            effects.Add(new JobEffect.Persist());
        }

        private JobEffect.StartGang StartNextGang()
        {
            var launch = s.Launches + 1;
            return new JobEffect.StartGang(launch, s.Workers, launch == 1 ? s.FirstLaunchArguments : []);
        }

        private void Move(JobPhase to, string? note)
        {
            var from = s.Phase;
            s.Phase = JobTransitions.Move(from, to);
            s.History.Add(new JobTransition(from, to, now, note));
        }
    }
}
