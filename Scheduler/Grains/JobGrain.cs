using Orchestrator.Contracts;
using Orchestrator.Contracts.Grains;
using Orchestrator.Contracts.Models;
using Orchestrator.Scheduler.Launchers;
using Orchestrator.Scheduler.Lifecycle;
using Orchestrator.Spec;

namespace Orchestrator.Scheduler.Grains;

/// <summary>
/// One job (see <see cref="IJobGrain"/>): turns calls, launcher reports, timer ticks and activations into
/// <see cref="JobEvent"/>s, lets <see cref="JobLifecycle.Decide"/> decide, and carries out the effects in order
/// (JobGrain.Effects.cs): the state is written before any side effect; a failed write re-reads the state, so memory
/// never runs ahead of storage. Heartbeats only feed the in-memory <see cref="ProgressTracker"/>.
/// </summary>
public sealed partial class JobGrain(
    [PersistentState("job", StorageNames.Jobs)] IPersistentState<JobState> state,
    TimeProvider clock,
    JobRunner runner,
    ActiveStoredStateGrains active) : StoredStateGrain(active), IJobGrain, IRemindable
{
    private readonly ProgressTracker progress = new();

    private JobState S => state.State;

    private string JobId => this.GetPrimaryKeyString();

    private DateTimeOffset Now => clock.GetUtcNow();

    /// <inheritdoc />
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (S.Submitted)
            await ApplyAsync(new JobEvent.Activated(runner.IsRunning(JobId))); // failover: watch or adopt the gang, or relaunch
        await base.OnActivateAsync(cancellationToken);
    }

    /// <inheritdoc />
    public override async Task<bool> WriteBackIfLostAsync()
    {
        if (!S.Submitted) return false;
        var lost = await StateWriteBack.WriteBackIfLostAsync(state, $"job '{JobId}'");
        if (lost)
            await GrainFactory.GetGrain<IJobRegistryGrain>(IJobRegistryGrain.DefaultKey).AddAsync(JobId); // its name, likely lost too
        if (!JobTransitions.IsTerminal(S.Phase))
            await EnsureWatchReminderAsync(); // the reminder table was likely lost with it; failover needs the reminder
        return lost;
    }

    /// <inheritdoc />
    public Task<JobStatus> SubmitAsync(JobSubmission submission)
    {
        ArgumentNullException.ThrowIfNull(submission);
        runner.EnsureAllowed(submission.OutputDirectory);
        return ApplyAsync(new JobEvent.Submitted(submission));
    }

    /// <inheritdoc />
    public Task<JobStatus> GetStatusAsync()
    {
        if (!S.Submitted)
            throw new InvalidOperationException($"unknown job '{JobId}'");
        return Task.FromResult(Snapshot());
    }

    /// <inheritdoc />
    public Task<JobStatus> SlotsGrantedAsync() => ApplyAsync(new JobEvent.SlotsGranted());

    /// <inheritdoc />
    public Task<JobStatus> ReportLaunchExitAsync(int launch, int exitCode) => ApplyAsync(new JobEvent.GangExited(launch, exitCode, ExitDetail()));

    /// <inheritdoc />
    public Task<JobStatus> RequestRescaleAsync(int workers) => ApplyAsync(new JobEvent.RescaleRequested(workers));

    /// <inheritdoc />
    public Task<JobStatus> CancelAsync() => ApplyAsync(new JobEvent.Cancelled());

    /// <inheritdoc />
    public Task<JobStatus> NodeLostAsync(string node) => ApplyAsync(new JobEvent.NodeLost(node));

    /// <inheritdoc />
    public Task<JobLog> GetLogAsync(int? rank, int tail)
    {
        if (!S.Submitted)
            throw new InvalidOperationException($"unknown job '{JobId}'");
        if (rank is int r && r >= S.Workers)
            throw new ArgumentOutOfRangeException(nameof(rank), r, $"job '{JobId}' runs {S.Workers} worker(s): ranks 0..{S.Workers - 1}; there is no rank {r}");
        return Task.FromResult(LauncherLog.Tail(RunLayout.LauncherLog(OutputDirectory), rank, tail));
    }

    /// <inheritdoc />
    public Task<GangLaunch> GetCurrentLaunchAsync() => S.Submitted
        ? Task.FromResult(new GangLaunch(S.Launches, OutputDirectory, S.Phase))
        : throw new InvalidOperationException($"unknown job '{JobId}'");

    /// <inheritdoc />
    public Task<WorkerDirective> HeartbeatAsync(WorkerHeartbeat heartbeat)
    {
        ArgumentNullException.ThrowIfNull(heartbeat);
        if (JobLifecycle.IsCurrent(S, heartbeat))
            progress.Record(heartbeat, Now);
        return Task.FromResult(JobLifecycle.DirectiveFor(S, heartbeat));
    }

    /// <summary>Decides on <paramref name="e"/> and carries out the effects; then starts the jobs that got slots meanwhile.</summary>
    private async Task<JobStatus> ApplyAsync(JobEvent e)
    {
        var decision = JobLifecycle.Decide(JobId, S, e, Now);
        foreach (var effect in decision.Effects)
            await CarryOutAsync(effect, decision.State);
        await StartGrantedJobsAsync();
        return Snapshot();
    }

    private JobStatus Snapshot() => new(
        JobId, S.Phase, S.Workers, S.RequestedWorkers, S.Restarts, S.MaxRestarts,
        S.NextLaunchNotBefore, S.FailureReason, [.. S.History], S.Phase == JobPhase.Running ? progress.Newest : null,
        S.Phase == JobPhase.Running ? progress.Ranks(S.Launches, S.Workers) : []);
}
