using System.Collections.Immutable;

namespace Orchestrator.Contracts.Models;

/// <summary>A job as its grain sees it: phase, gang size, restart accounting and its history.</summary>
/// <param name="JobId">The job's name (the grain key).</param>
/// <param name="Phase">Current lifecycle phase.</param>
/// <param name="Workers">Worker count of the current (or next) launch.</param>
/// <param name="RequestedWorkers">Worker count a pending rescale will launch with; null when none is pending.</param>
/// <param name="Restarts">Restarts after failures so far.</param>
/// <param name="MaxRestarts">Restarts allowed before the job is Failed.</param>
/// <param name="NextLaunchNotBefore">Earliest time the launcher may start a restart (backoff); null when no restart is pending.</param>
/// <param name="FailureReason">Why the job Failed (or why it last restarted); null otherwise.</param>
/// <param name="History">Every persisted phase change, oldest first.</param>
/// <param name="LastHeartbeat">The newest heartbeat of the current launch with the highest step of any rank; null before the first (or when not running).</param>
/// <param name="WorkerHeartbeats">The newest heartbeat of each rank of the current launch, by rank; empty before the first (or when not
/// running); default (treat as empty) when built by code that predates it.</param>
[GenerateSerializer, Immutable, Alias("orchestrator.JobStatus.v1")]
public sealed record JobStatus(
    string JobId,
    JobPhase Phase,
    int Workers,
    int? RequestedWorkers,
    int Restarts,
    int MaxRestarts,
    DateTimeOffset? NextLaunchNotBefore,
    string? FailureReason,
    ImmutableArray<JobTransition> History,
    HeartbeatInfo? LastHeartbeat = null,
    ImmutableArray<HeartbeatInfo> WorkerHeartbeats = default);
