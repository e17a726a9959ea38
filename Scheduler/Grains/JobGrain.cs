using System.Collections.Immutable;
using Microsoft.Extensions.DependencyInjection;
using Orchestrator.Contracts;
using Orchestrator.Contracts.Grains;
using Orchestrator.Contracts.Models;
using Orchestrator.Scheduler.Launchers;
using Orchestrator.Scheduler.Lifecycle;

namespace Orchestrator.Scheduler.Grains;

/// <summary>
/// A job's persisted state machine (see <see cref="IJobGrain"/>). Each operation changes the state in
/// memory, writes it, and only then returns; when the move is illegal nothing is changed, and when the
/// write fails the in-memory state is re-read so it never runs ahead of storage.
/// <para>
/// When the silo registers a <see cref="JobRunner"/> the grain also drives the job: submit asks the
/// scheduler grain for the gang's slots; on a grant it moves to Launching, starts the workers, and moves to
/// Running once the processes exist; the runner's exit report ends the job (Succeeded or Failed, slots
/// released and queued jobs started) or restarts it after the policy's backoff with the same run directory;
/// cancel kills the process group. Each transition is persisted before its side effect. Without a runner
/// (grain tests) it is the bare state machine.
/// </para>
/// </summary>
public sealed partial class JobGrain(
    [PersistentState("job", StorageNames.Jobs)] IPersistentState<JobState> state,
    TimeProvider clock,
    IServiceProvider services) : Grain, IJobGrain
{
    /// <summary>Before the first heartbeat of a launch the stall clock allows at least this long (process start, data load).</summary>
    public static readonly TimeSpan StartupGrace = TimeSpan.FromSeconds(60);

    private readonly JobRunner? runner = services.GetService<JobRunner>();

    // Heartbeat tracking of the current launch: in memory only (a heartbeat a second is not worth a write).
    private HeartbeatInfo? lastHeartbeat;
    private DateTimeOffset launchedAt;
    private IGrainTimer? stallTimer;
    private readonly Dictionary<int, HeartbeatInfo> workerHeartbeats = [];

    private JobState S => state.State;

    private string JobId => this.GetPrimaryKeyString();

    /// <inheritdoc />
    public async Task<JobStatus> SubmitAsync(JobSubmission submission)
    {
        ArgumentNullException.ThrowIfNull(submission);
        if (S.Submitted)
            throw new InvalidOperationException($"job '{JobId}' already exists (phase {S.Phase})");
        if (submission.StallTimeout is { } stall && stall <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(submission), stall, $"job '{JobId}': the stall timeout must be positive, not {stall}");
        if (submission.Workers < 1)
            throw new ArgumentOutOfRangeException(nameof(submission), submission.Workers, $"job '{JobId}' needs at least 1 worker, not {submission.Workers}");
        // Validates the policy before anything is stored.
        var policy = new RestartPolicy(submission.MaxRestarts, submission.RestartBaseDelay, submission.RestartMaxDelay);
        var submitted = await CommitAsync(s =>
        {
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
            s.History.Add(new JobTransition(JobPhase.Pending, JobPhase.Pending, Now, "submitted"));
        });
        await GrainFactory.GetGrain<IJobRegistryGrain>(IJobRegistryGrain.DefaultKey).AddAsync(JobId);
        return runner is null ? submitted : await AdmitAsync();
    }

    /// <inheritdoc />
    public Task<JobStatus> GetStatusAsync()
    {
        EnsureSubmitted();
        return Task.FromResult(Snapshot());
    }

    /// <inheritdoc />
    public async Task<JobStatus> MarkLaunchingAsync()
    {
        var launching = await MoveToLaunchingAsync();
        return runner is null ? launching : await StartWorkersAsync();
    }

    private Task<JobStatus> MoveToLaunchingAsync()
    {
        EnsureSubmitted();
        var note = S.Phase == JobPhase.Rescaling && S.RequestedWorkers is int n ? $"relaunch with {n} workers" : null;
        return MoveAsync(JobPhase.Launching, note, s =>
        {
            if (s.RequestedWorkers is int workers)
                s.Workers = workers;
            s.RequestedWorkers = null;
            s.NextLaunchNotBefore = null;
        });
    }

    /// <inheritdoc />
    public Task<JobStatus> MarkRunningAsync()
    {
        EnsureSubmitted();
        return MoveAsync(JobPhase.Running, null, _ => { });
    }

    /// <inheritdoc />
    public async Task<JobStatus> ReportExitAsync(int exitCode)
    {
        EnsureSubmitted();
        if (runner is not null && JobTransitions.IsTerminal(S.Phase))
            return Snapshot(); // a late report of a gang whose job already ended
        if (runner is not null && S.Phase == JobPhase.Rescaling && exitCode == 0)
            return await MarkLaunchingAsync(); // the gang stopped at a checkpoint: relaunch with the new count now
        var status = await RecordExitAsync(exitCode);
        if (runner is null) return status;
        await AfterFailureAsync(status);
        return status;
    }

    /// <summary>A failed launch was recorded (its gang is gone): release the slots when final, else relaunch after the backoff.</summary>
    private async Task AfterFailureAsync(JobStatus status)
    {
        if (JobTransitions.IsTerminal(status.Phase))
            await ReleaseSlotsAsync();
        else if (status.Phase == JobPhase.Launching && status.NextLaunchNotBefore is { } notBefore)
        {
            var delay = notBefore - Now;
            this.RegisterGrainTimer(_ => RelaunchAsync(),
                new GrainTimerCreationOptions(delay > TimeSpan.Zero ? delay : TimeSpan.Zero, Timeout.InfiniteTimeSpan) { KeepAlive = true });
        }
    }

    /// <summary>
    /// Stall detection (every second while a gang runs): no step progress for the stall timeout (counted from the
    /// launch, with at least <see cref="StartupGrace"/>, until the first heartbeat) is recorded as a failure first,
    /// then the gang's process group is killed, then the job restarts or ends Failed like after a failed exit.
    /// </summary>
    private async Task CheckStallAsync()
    {
        if (S.Phase is not (JobPhase.Running or JobPhase.Rescaling) || S.StallTimeout is not { } stall || runner is null) return;
        var now = Now;
        var deadline = lastHeartbeat is { } beat
            ? beat.LastProgressAt + stall
            : launchedAt + (stall > StartupGrace ? stall : StartupGrace);
        if (now < deadline) return;
        var cause = $"stalled: no step progress for {stall.TotalSeconds:0.##} s";
        var status = await RecordFailureAsync(cause);
        StopStallTimer();
        await runner.StopAsync(JobId); // the whole process group; a killed gang's exit is not reported
        await AfterFailureAsync(status);
    }

    private void StopStallTimer()
    {
        stallTimer?.Dispose();
        stallTimer = null;
    }

    /// <inheritdoc />
    public Task<JobStatus> ReportLaunchExitAsync(int launch, int exitCode)
    {
        EnsureSubmitted();
        return launch == S.Launches ? ReportExitAsync(exitCode) : Task.FromResult(Snapshot());
    }

    /// <inheritdoc />
    public Task<WorkerDirective> HeartbeatAsync(WorkerHeartbeat heartbeat)
    {
        ArgumentNullException.ThrowIfNull(heartbeat);
        if (!S.Submitted || JobTransitions.IsTerminal(S.Phase) || heartbeat.Launch != S.Launches)
            return Task.FromResult(WorkerDirective.Stop); // a gang nobody runs any more
        var now = Now;
        // The job progresses when any rank reports a step above the highest seen in this launch; the job's newest
        // heartbeat is the newest one at that step (ranks that lag a step do not count as progress twice).
        var progressed = lastHeartbeat is null || heartbeat.Step > lastHeartbeat.Heartbeat.Step;
        if (progressed || heartbeat.Step == lastHeartbeat!.Heartbeat.Step)
            lastHeartbeat = new HeartbeatInfo(heartbeat, now, progressed ? now : lastHeartbeat!.LastProgressAt);
        RecordWorkerHeartbeat(heartbeat, now);
        // A rescale stops the gang at its next step boundary, after a checkpoint; the exit relaunches it.
        return Task.FromResult(S.Phase == JobPhase.Rescaling ? WorkerDirective.Stop : WorkerDirective.None);
    }

    /// <summary>Keeps the rank's newest heartbeat (in memory; entries of older launches are left out of the status).</summary>
    private void RecordWorkerHeartbeat(WorkerHeartbeat heartbeat, DateTimeOffset now)
    {
        var previous = workerHeartbeats.GetValueOrDefault(heartbeat.Rank);
        bool progressed = previous is null || previous.Heartbeat.Launch != heartbeat.Launch || heartbeat.Step > previous.Heartbeat.Step;
        workerHeartbeats[heartbeat.Rank] = new HeartbeatInfo(heartbeat, now, progressed ? now : previous!.LastProgressAt);
    }

    /// <summary>The newest heartbeat of each rank of the current launch, by rank.</summary>
    private ImmutableArray<HeartbeatInfo> CurrentWorkerHeartbeats() =>
        [.. workerHeartbeats.Where(w => w.Value.Heartbeat.Launch == S.Launches && w.Key < S.Workers).OrderBy(w => w.Key).Select(w => w.Value)];

    private Task<JobStatus> RecordExitAsync(int exitCode)
    {
        var phase = S.Phase;
        if (phase == JobPhase.Rescaling && exitCode == 0)
            return Task.FromResult(Snapshot()); // the expected stop; the relaunch follows
        if (exitCode == 0)
            return MoveAsync(JobPhase.Succeeded, "all workers exited with code 0", _ => { });
        return RecordFailureAsync($"worker exited with code {exitCode}");
    }

    /// <summary>The current launch failed (exit or stall): restart per the policy (back to Launching with a backoff) or Failed.</summary>
    private Task<JobStatus> RecordFailureAsync(string cause)
    {
        var phase = S.Phase;
        if (phase is not (JobPhase.Running or JobPhase.Launching or JobPhase.Rescaling))
            throw new InvalidOperationException(
                $"illegal job transition {phase} -> {JobPhase.Launching}: a failed exit restarts only a Launching, Running or Rescaling job");

        var policy = new RestartPolicy(S.MaxRestarts, S.RestartBaseDelay, S.RestartMaxDelay);
        if (!policy.CanRestart(S.Restarts))
        {
            var reason = $"{cause}; restarts exhausted ({S.Restarts} of {S.MaxRestarts})";
            return MoveAsync(JobPhase.Failed, reason, s => s.FailureReason = reason);
        }
        var attempt = S.Restarts + 1;
        StopStallTimer();
        lastHeartbeat = null;
        var note = $"{cause}; restart {attempt} of {S.MaxRestarts}";
        var now = Now;
        var notBefore = now + policy.Delay(attempt);
        void Restart(JobState s)
        {
            s.Restarts = attempt;
            s.FailureReason = cause;
            s.NextLaunchNotBefore = notBefore;
            if (s.RequestedWorkers is int workers) // a gang that failed while rescaling restarts at the new size
                s.Workers = workers;
            s.RequestedWorkers = null;
        }
        return MoveAsync(JobPhase.Launching, note, Restart, now);
    }

    /// <inheritdoc />
    public async Task<JobStatus> RequestRescaleAsync(int workers)
    {
        EnsureSubmitted();
        if (workers < 1)
            throw new ArgumentOutOfRangeException(nameof(workers), workers, $"cannot scale job '{JobId}' to {workers} workers; at least 1 is needed");
        if (S.Phase != JobPhase.Running)
            throw new InvalidOperationException(
                $"illegal job transition {S.Phase} -> {JobPhase.Rescaling}: job '{JobId}' is {S.Phase.ToString().ToLowerInvariant()}; only a running job can be scaled");
        if (workers == S.Workers)
            throw new ArgumentException($"job '{JobId}' already runs on {workers} workers", nameof(workers));
        if (S.WorkerRule?.Reject(workers) is { } rejected)
            throw new ArgumentException($"cannot scale job '{JobId}' to {workers} workers: {rejected}", nameof(workers));
        // The slots first: a growth that does not fit is refused before anything is recorded.
        var started = runner is null ? [] : await SchedulerGrain.ResizeAsync(JobId, workers);
        var from = S.Workers;
        var status = await MoveAsync(JobPhase.Rescaling, $"rescale {from} -> {workers} workers", s =>
        {
            s.RequestedWorkers = workers;
            s.Rescales++;
        });
        await LaunchGrantedAsync(started); // a shrink may let queued jobs start
        return status;
    }

    /// <inheritdoc />
    public async Task<JobStatus> CancelAsync()
    {
        EnsureSubmitted();
        var status = await MoveAsync(JobPhase.Cancelled, "cancelled by the user", s =>
        {
            s.RequestedWorkers = null;
            s.NextLaunchNotBefore = null;
        });
        StopStallTimer();
        if (runner is null) return status;
        StopAdoptedGang(); // a gang started by a silo that died (JobGrain.Failover.cs)
        await runner.StopAsync(JobId); // the whole process group; its exit is not reported
        await ReleaseSlotsAsync();
        return status;
    }

    private ISchedulerGrain SchedulerGrain => GrainFactory.GetGrain<ISchedulerGrain>(ISchedulerGrain.DefaultKey);

    private string OutputDirectory => S.OutputDirectory ?? runner!.DefaultOutputDirectory(JobId);

    /// <summary>Asks for the gang's slots; launches on a grant, stays Pending when queued (the releasing job starts it).</summary>
    private async Task<JobStatus> AdmitAsync()
    {
        AdmissionResult admission;
        try
        {
            admission = await SchedulerGrain.EnqueueAsync(JobId, S.Workers);
        }
        catch (ArgumentException e)
        {
            var reason = $"not admitted: {e.Message}";
            return await MoveAsync(JobPhase.Failed, reason, s => s.FailureReason = reason);
        }
        return admission.Outcome == AdmissionOutcome.Granted ? await MarkLaunchingAsync() : Snapshot();
    }

    /// <summary>The persisted phase is Launching: start the gang, then record Running (or Failed when it cannot start).</summary>
    private async Task<JobStatus> StartWorkersAsync()
    {
        var jobId = JobId;
        var factory = GrainFactory;
        int pid;
        var launch = S.Launches + 1;
        S.Launches = launch; // persisted with the move to Running below
        try
        {
            var extra = launch == 1 ? S.FirstLaunchArguments : [];
            pid = runner!.Start(jobId, S.Workers, S.SpecYaml, OutputDirectory, extra,
                code => factory.GetGrain<IJobGrain>(jobId).ReportLaunchExitAsync(launch, code), launch);
        }
        catch (Exception e) when (e is LaunchException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            var reason = $"launch failed: {e.Message}";
            var failed = await MoveAsync(JobPhase.Failed, reason, s => s.FailureReason = reason);
            await ReleaseSlotsAsync();
            return failed;
        }
        var running = await MoveAsync(JobPhase.Running, $"{S.Workers} workers started (launcher pid {pid})", s => s.NextLaunchNotBefore = null);
        lastHeartbeat = null;
        launchedAt = Now;
        StopStallTimer();
        if (S.StallTimeout is { } stall)
        {
            var period = TimeSpan.FromSeconds(Math.Clamp(stall.TotalSeconds / 4, 0.25, 1));
            stallTimer = this.RegisterGrainTimer(_ => CheckStallAsync(), new GrainTimerCreationOptions(period, period) { KeepAlive = true });
        }
        await AfterGangStartedAsync(); // failover: JobGrain.Failover.cs
        return running;
    }

    /// <summary>The restart backoff has passed: relaunch unless the job moved on meanwhile (cancelled).</summary>
    private async Task RelaunchAsync()
    {
        if (S.Phase != JobPhase.Launching || runner!.IsRunning(JobId)) return;
        await StartWorkersAsync();
    }

    /// <summary>Frees the job's slots and launches the queued jobs that now fit.</summary>
    private async Task ReleaseSlotsAsync()
    {
        await LaunchGrantedAsync(await SchedulerGrain.ReleaseAsync(JobId));
    }

    /// <summary>Launches the queued jobs the scheduler just granted slots to.</summary>
    private async Task LaunchGrantedAsync(IEnumerable<SlotGrant> started)
    {
        foreach (var grant in started)
        {
            try
            {
                await GrainFactory.GetGrain<IJobGrain>(grant.JobId).MarkLaunchingAsync();
            }
            catch (InvalidOperationException)
            {
                // The queued job was cancelled meanwhile; its own cancel releases the slots again.
            }
        }
    }

    private DateTimeOffset Now => clock.GetUtcNow();

    private Task<JobStatus> MoveAsync(JobPhase to, string? note, Action<JobState> change, DateTimeOffset? at = null)
    {
        var from = S.Phase;
        if (!JobTransitions.CanMove(from, to))
            throw Illegal(from, to);
        return CommitAsync(s =>
        {
            change(s);
            s.Phase = to;
            s.History.Add(new JobTransition(from, to, at ?? Now, note));
        });
    }

    private async Task<JobStatus> CommitAsync(Action<JobState> change)
    {
        change(S);
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            await state.ReadStateAsync();
            throw;
        }
        return Snapshot();
    }

    private static InvalidOperationException Illegal(JobPhase from, JobPhase to) =>
        new($"illegal job transition {from} -> {to}");

    private void EnsureSubmitted()
    {
        if (!S.Submitted)
            throw new InvalidOperationException($"unknown job '{JobId}'");
    }

    private JobStatus Snapshot() => new(
        JobId, S.Phase, S.Workers, S.RequestedWorkers, S.Restarts, S.MaxRestarts,
        S.NextLaunchNotBefore, S.FailureReason, [.. S.History], S.Phase == JobPhase.Running ? lastHeartbeat : null,
        S.Phase == JobPhase.Running ? CurrentWorkerHeartbeats() : []);
}
