using System.Collections.Immutable;

namespace Orchestrator.Contracts.Models;

/// <summary>A running gang with ranks on nodes that died.</summary>
/// <param name="JobId">The job.</param>
/// <param name="DeadNodes">Its nodes that are down.</param>
[GenerateSerializer, Immutable, Alias("orchestrator.DisplacedGang.v1")]
public sealed record DisplacedGang(string JobId, ImmutableArray<string> DeadNodes);

/// <summary>What the scheduler found after a membership change.</summary>
/// <param name="Started">Queued jobs that now start.</param>
/// <param name="Displaced">Running gangs with ranks on dead nodes: their jobs must restart elsewhere.</param>
/// <param name="Running">Every job that holds slots (so a silo can wake the grains of jobs whose silo died).</param>
[GenerateSerializer, Immutable, Alias("orchestrator.NodeChange.v1")]
public sealed record NodeChange(ImmutableArray<SlotGrant> Started, ImmutableArray<DisplacedGang> Displaced, ImmutableArray<string> Running);

/// <summary>What the scheduler decided for a relaunch: the grant to launch on (null: the job waits first in the queue).</summary>
/// <param name="Grant">The job's grant, placed anew when its nodes died; null when the live nodes cannot hold it now.</param>
/// <param name="Started">Queued jobs that started.</param>
/// <param name="Shortfall">What is short when the job waits.</param>
[GenerateSerializer, Immutable, Alias("orchestrator.Replacement.v1")]
public sealed record Replacement(SlotGrant? Grant, ImmutableArray<SlotGrant> Started, string? Shortfall);
