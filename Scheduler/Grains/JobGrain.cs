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
public sealed class JobGrain(
    [PersistentState("job", StorageNames.Jobs)] IPersistentState<JobState> state,
    TimeProvider clock,
    IServiceProvider services) : Grain, IJobGrain
{
    private readonly JobRunner? runner = services.GetService<JobRunner>();

    private JobState S => state.State;

    private string JobId => this.GetPrimaryKeyString();

    /// <inheritdoc />
    public async Task<JobStatus> SubmitAsync(JobSubmission submission)
    {
        ArgumentNullException.ThrowIfNull(submission);
        if (S.Submitted)
            throw new InvalidOperationException($"job '{JobId}' already exists (phase {S.Phase})");
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
            s.History.Add(new JobTransition(JobPhase.Pending, JobPhase.Pending, Now, "submitted"));
        });
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
        var status = await RecordExitAsync(exitCode);
        if (runner is null) return status;
        if (JobTransitions.IsTerminal(status.Phase))
            await ReleaseSlotsAsync();
        else if (status.Phase == JobPhase.Launching && status.NextLaunchNotBefore is { } notBefore)
        {
            var delay = notBefore - Now;
            this.RegisterGrainTimer(_ => RelaunchAsync(),
                new GrainTimerCreationOptions(delay > TimeSpan.Zero ? delay : TimeSpan.Zero, Timeout.InfiniteTimeSpan) { KeepAlive = true });
        }
        return status;
    }

    private Task<JobStatus> RecordExitAsync(int exitCode)
    {
        var phase = S.Phase;
        if (phase == JobPhase.Rescaling)
            return Task.FromResult(Snapshot());
        if (exitCode == 0)
            return MoveAsync(JobPhase.Succeeded, "all workers exited with code 0", _ => { });
        if (phase is not (JobPhase.Running or JobPhase.Launching))
            throw new InvalidOperationException(
                $"illegal job transition {phase} -> {JobPhase.Launching}: a failed exit restarts only a Launching or Running job");

        var policy = new RestartPolicy(S.MaxRestarts, S.RestartBaseDelay, S.RestartMaxDelay);
        var cause = $"worker exited with code {exitCode}";
        if (!policy.CanRestart(S.Restarts))
        {
            var reason = $"{cause}; restarts exhausted ({S.Restarts} of {S.MaxRestarts})";
            return MoveAsync(JobPhase.Failed, reason, s => s.FailureReason = reason);
        }
        var attempt = S.Restarts + 1;
        var note = $"{cause}; restart {attempt} of {S.MaxRestarts}";
        var now = Now;
        var notBefore = now + policy.Delay(attempt);
        void Restart(JobState s)
        {
            s.Restarts = attempt;
            s.FailureReason = cause;
            s.NextLaunchNotBefore = notBefore;
        }
        return MoveAsync(JobPhase.Launching, note, Restart, now);
    }

    /// <inheritdoc />
    public Task<JobStatus> RequestRescaleAsync(int workers)
    {
        EnsureSubmitted();
        if (workers < 1)
            throw new ArgumentOutOfRangeException(nameof(workers), workers, $"cannot scale job '{JobId}' to {workers} workers; at least 1 is needed");
        return MoveAsync(JobPhase.Rescaling, $"rescale {S.Workers} -> {workers} workers", s => s.RequestedWorkers = workers);
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
        if (runner is null) return status;
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
        try
        {
            pid = runner!.Start(jobId, S.Workers, S.SpecYaml, OutputDirectory, [],
                code => factory.GetGrain<IJobGrain>(jobId).ReportExitAsync(code));
        }
        catch (Exception e) when (e is LaunchException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            var reason = $"launch failed: {e.Message}";
            var failed = await MoveAsync(JobPhase.Failed, reason, s => s.FailureReason = reason);
            await ReleaseSlotsAsync();
            return failed;
        }
        return await MoveAsync(JobPhase.Running, $"{S.Workers} workers started (launcher pid {pid})", s => s.NextLaunchNotBefore = null);
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
        var started = await SchedulerGrain.ReleaseAsync(JobId);
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
        S.NextLaunchNotBefore, S.FailureReason, [.. S.History]);
}
