using System.Collections.Immutable;

namespace Orchestrator.Contracts.Models;

/// <summary>Whether a job's gang got its slots now or waits in the FIFO queue.</summary>
[GenerateSerializer, Alias("orchestrator.AdmissionOutcome.v1")]
public enum AdmissionOutcome
{
    /// <summary>All of the job's slots are reserved: it may launch.</summary>
    Granted,
    /// <summary>Not enough free slots, or jobs ahead of it wait: queued in FIFO order.</summary>
    Queued,
}

/// <summary>The scheduler's answer to an enqueue.</summary>
/// <param name="Outcome">Granted or queued.</param>
/// <param name="QueuePosition">1-based place in the queue when queued; 0 when granted.</param>
/// <param name="FreeSlots">Slots still free after this decision.</param>
/// <param name="Nodes">Where a granted gang runs (nodes in rank order); empty when queued.</param>
[GenerateSerializer, Immutable, Alias("orchestrator.AdmissionResult.v1")]
public sealed record AdmissionResult(AdmissionOutcome Outcome, int QueuePosition, int FreeSlots, ImmutableArray<NodeRanks> Nodes);

/// <summary>The scheduler's slot accounting at one moment.</summary>
/// <param name="Capacity">Total worker slots.</param>
/// <param name="FreeSlots">Slots not granted to any running job.</param>
/// <param name="Running">Jobs holding slots, in grant order.</param>
/// <param name="Queue">Jobs waiting, head first.</param>
/// <param name="Nodes">The registered nodes, by name (empty for a cluster whose silos registered none: one implicit node).</param>
[GenerateSerializer, Immutable, Alias("orchestrator.SchedulerSnapshot.v1")]
public sealed record SchedulerSnapshot(
    int Capacity,
    int FreeSlots,
    ImmutableArray<SlotGrant> Running,
    ImmutableArray<SlotGrant> Queue,
    ImmutableArray<NodeStatus> Nodes);
