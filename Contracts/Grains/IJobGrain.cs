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

    /// <summary>Workers are being started (after admission, a restart's backoff, or a rescale's checkpoint).</summary>
    [Alias("MarkLaunching")]
    Task<JobStatus> MarkLaunchingAsync();

    /// <summary>All workers are up and training.</summary>
    [Alias("MarkRunning")]
    Task<JobStatus> MarkRunningAsync();

    /// <summary>
    /// The launcher reports that the job's processes exited. Code 0 while Running = Succeeded; a non-zero
    /// code restarts (back to Launching, restarts + 1, with backoff) until the maximum, then Failed with
    /// the reason. While Rescaling the exit is the expected stop and changes nothing.
    /// </summary>
    [Alias("ReportExit")]
    Task<JobStatus> ReportExitAsync(int exitCode);

    /// <summary>
    /// The launcher reports that launch number <paramref name="launch"/> exited; ignored when the job has
    /// launched again since (a gang torn down for a stall), otherwise as <see cref="ReportExitAsync"/>.
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
}
