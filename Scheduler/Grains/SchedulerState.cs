using Orchestrator.Contracts.Models;

namespace Orchestrator.Scheduler.Grains;

/// <summary>The persisted state of a <see cref="SchedulerGrain"/>: nodes, grants (with their nodes) and the FIFO queue.</summary>
[GenerateSerializer, Alias("orchestrator.SchedulerState.v1")]
public sealed class SchedulerState
{
    /// <summary>Slots of the implicit single node while no silo registered a node; 0 until first set (then the configured value applies).</summary>
    [Id(0)] public int Capacity { get; set; }
    /// <summary>Jobs holding slots, in grant order, each with its nodes.</summary>
    [Id(1)] public List<SlotGrant> Running { get; set; } = [];
    /// <summary>Jobs waiting, head first.</summary>
    [Id(2)] public List<SlotGrant> Queue { get; set; } = [];
    /// <summary>Nodes registered by silos, in registration order (a dead node stays listed, without slots).</summary>
    [Id(3)] public List<NodeInfo> Nodes { get; set; } = [];
}
