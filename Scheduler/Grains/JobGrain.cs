using Orchestrator.Contracts;
using Orchestrator.Contracts.Grains;
using Orchestrator.Contracts.Models;
using Orchestrator.Scheduler.Lifecycle;

namespace Orchestrator.Scheduler.Grains;

/// <summary>
/// A job's persisted state machine (see <see cref="IJobGrain"/>). Each operation changes the state in
/// memory, writes it, and only then returns; when the move is illegal nothing is changed, and when the
/// write fails the in-memory state is re-read so it never runs ahead of storage.
/// </summary>
public sealed class JobGrain(
    [PersistentState("job", StorageNames.Jobs)] IPersistentState<JobState> state,
    TimeProvider clock) : Grain, IJobGrain
{
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
        return await CommitAsync(s =>
        {
            s.Submitted = true;
            s.SpecYaml = submission.SpecYaml;
            s.Phase = JobPhase.Pending;
            s.Workers = submission.Workers;
            s.MaxRestarts = policy.MaxRestarts;
            s.RestartBaseDelay = policy.BaseDelay;
            s.RestartMaxDelay = policy.MaxDelay;
            s.History.Add(new JobTransition(JobPhase.Pending, JobPhase.Pending, Now, "submitted"));
        });
    }

    /// <inheritdoc />
    public Task<JobStatus> GetStatusAsync()
    {
        EnsureSubmitted();
        return Task.FromResult(Snapshot());
    }

    /// <inheritdoc />
    public Task<JobStatus> MarkLaunchingAsync()
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
    public Task<JobStatus> ReportExitAsync(int exitCode)
    {
        EnsureSubmitted();
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
    public Task<JobStatus> CancelAsync()
    {
        EnsureSubmitted();
        return MoveAsync(JobPhase.Cancelled, "cancelled by the user", s =>
        {
            s.RequestedWorkers = null;
            s.NextLaunchNotBefore = null;
        });
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
