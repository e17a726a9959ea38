using Orchestrator.Contracts.Models;

namespace Orchestrator.Contracts.Grains;

/// <summary>
/// One job's lifecycle (key = job name). Every method persists the new state before it returns, so a
/// caller that sees a result may act on it. A move the state machine does not allow throws
/// <see cref="InvalidOperationException"/> ("illegal job transition X -> Y") and changes nothing.
/// </summary>
[Alias("orchestrator.IJobGrain.v1")]
public interface IJobGrain : IGrainWithStringKey
{
    /// <summary>Creates the job in <see cref="JobPhase.Pending"/>. Throws if a job of this name already exists.</summary>
    [Alias("Submit")]
    Task<JobStatus> SubmitAsync(JobSubmission submission);

    /// <summary>The job's current status. Throws if no job of this name was submitted.</summary>
    [Alias("GetStatus")]
    Task<JobStatus> GetStatusAsync();

    /// <summary>The scheduler granted the job's slots (a queued job's turn came): move to Launching and start the workers.</summary>
    [Alias("SlotsGranted")]
    Task<JobStatus> SlotsGrantedAsync();

    /// <summary>
    /// The launcher reports that launch number <paramref name="launch"/> exited; ignored when the job has launched again
    /// since (a gang torn down for a stall) or already ended. Code 0 while Running = Succeeded; while Rescaling it is the
    /// expected stop and the gang is relaunched at the new size; a non-zero code restarts (back to Launching, restarts + 1,
    /// with backoff) until the maximum, then Failed with the reason.
    /// </summary>
    [Alias("ReportLaunchExit")]
    Task<JobStatus> ReportLaunchExitAsync(int launch, int exitCode);

    /// <summary>
    /// A rank of a running gang reports progress (about once a second, through its <see cref="IWorkerGrain"/>).
    /// Feeds stall detection (progress of any rank), <c>status</c> (the newest heartbeat of each rank) and the
    /// silo's metrics; the reply is what the gang should do at its next step boundary (Stop for a stale launch
    /// or a job that is no longer running; only rank 0's reply is applied). Never changes the persisted state.
    /// </summary>
    [Alias("Heartbeat")]
    Task<WorkerDirective> HeartbeatAsync(WorkerHeartbeat heartbeat);

    /// <summary>Asks a Running job to checkpoint and relaunch with <paramref name="workers"/> workers (moves to Rescaling).</summary>
    [Alias("RequestRescale")]
    Task<JobStatus> RequestRescaleAsync(int workers);

    /// <summary>Stops the job for good (Cancelled), from any phase that is not already final.</summary>
    [Alias("Cancel")]
    Task<JobStatus> CancelAsync();

    /// <summary>
    /// The last <paramref name="tail"/> lines (all when 0 or less) of the job's log, of every rank or of rank
    /// <paramref name="rank"/> only. Read-only. Throws if no job of this name was submitted.
    /// </summary>
    [Alias("GetLog")]
    Task<JobLog> GetLogAsync(int? rank, int tail);

    /// <summary>
    /// Node <paramref name="node"/>, which ran part of the current gang, left the cluster: a Running (or Rescaling) job's launch is
    /// lost and restarts (counted) on live nodes; a job already relaunching ignores it.
    /// </summary>
    [Alias("NodeLost")]
    Task<JobStatus> NodeLostAsync(string node);

    /// <summary>The job's current launch number, run directory and phase (what a node agent checks); throws for an unknown job.</summary>
    [Alias("GetCurrentLaunch")]
    Task<GangLaunch> GetCurrentLaunchAsync();
}
