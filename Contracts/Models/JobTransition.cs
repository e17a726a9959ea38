namespace Orchestrator.Contracts.Models;

/// <summary>One recorded phase change of a job.</summary>
/// <param name="From">Phase before the change (equal to <paramref name="To"/> for a relaunch while launching).</param>
/// <param name="To">Phase after the change.</param>
/// <param name="At">When the change was persisted (UTC).</param>
/// <param name="Note">Why, in a few words (e.g. "worker exited with code 137; restart 1 of 3").</param>
[GenerateSerializer, Immutable, Alias("orchestrator.JobTransition.v1")]
public sealed record JobTransition(JobPhase From, JobPhase To, DateTimeOffset At, string? Note);
