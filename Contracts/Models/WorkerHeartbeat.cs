namespace Orchestrator.Contracts.Models;

/// <summary>
/// What each rank of a launched gang reports about once a second, to its worker grain (<see cref="Grains.IWorkerGrain"/>),
/// which forwards it to the job grain (<see cref="Grains.IJobGrain.HeartbeatAsync"/>).
/// </summary>
/// <param name="Launch">The launch number the worker was started with (<c>ORCHESTRATOR_LAUNCH</c>); a heartbeat of an older launch is stale.</param>
/// <param name="Step">Optimizer steps completed (global step count, so it continues across resumes).</param>
/// <param name="SamplesPerSecond">Global samples per second of the recent steps.</param>
/// <param name="Loss">Loss of the last step; NaN before the first.</param>
/// <param name="LastStepSeconds">Wall time of the last step.</param>
/// <param name="ProcessId">Process id of the reporting worker.</param>
/// <param name="Rank">The reporting worker's rank (0 = the one whose directives the gang applies).</param>
/// <param name="ComputeSeconds">Of <paramref name="LastStepSeconds"/>: data, forward, backward and update on this rank.</param>
/// <param name="CompressionSeconds">Of <paramref name="LastStepSeconds"/>: gradient encoding and decoding on this rank.</param>
/// <param name="CommunicationSeconds">Of <paramref name="LastStepSeconds"/>: allreduce transfers on this rank, waiting included.</param>
/// <param name="Activity">What the rank is doing now.</param>
/// <param name="ActivitySeconds">How long it has been doing it (measured on the rank, so clocks need not agree).</param>
[GenerateSerializer, Immutable, Alias("orchestrator.WorkerHeartbeat.v1")]
public sealed record WorkerHeartbeat(int Launch, long Step, double SamplesPerSecond, double Loss, double LastStepSeconds, int ProcessId,
    int Rank = 0, double ComputeSeconds = 0, double CompressionSeconds = 0, double CommunicationSeconds = 0,
    WorkerActivity Activity = WorkerActivity.Training, double ActivitySeconds = 0);

/// <summary>What the control plane asks of a gang on a heartbeat reply; rank 0 applies it on every rank at the next step boundary.</summary>
[GenerateSerializer, Alias("orchestrator.WorkerDirective.v1")]
public enum WorkerDirective
{
    /// <summary>Keep training.</summary>
    None = 0,
    /// <summary>Checkpoint at the next step boundary, then exit (every rank).</summary>
    Stop = 1,
    /// <summary>Write a checkpoint at the next step boundary and keep training.</summary>
    Checkpoint = 2,
}

/// <summary>The newest heartbeat of a running job (or of one of its ranks), as <c>status</c> shows it.</summary>
/// <param name="Heartbeat">The heartbeat as reported.</param>
/// <param name="ReceivedAt">When the grain received it (UTC).</param>
/// <param name="LastProgressAt">When the step count last went up in this launch (UTC): of any rank for the job's newest heartbeat, of this rank for a rank's.</param>
[GenerateSerializer, Immutable, Alias("orchestrator.HeartbeatInfo.v1")]
public sealed record HeartbeatInfo(WorkerHeartbeat Heartbeat, DateTimeOffset ReceivedAt, DateTimeOffset LastProgressAt);
