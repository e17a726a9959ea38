using Orchestrator.Contracts.Models;

namespace Orchestrator.Scheduler.Grains;

/// <summary>The persisted state of a <see cref="SchedulerGrain"/>: slot capacity, grants and the FIFO queue.</summary>
[GenerateSerializer, Alias("orchestrator.SchedulerState.v1")]
public sealed class SchedulerState
{
    /// <summary>Total worker slots; 0 until first set (then the configured value applies).</summary>
    [Id(0)] public int Capacity { get; set; }
    /// <summary>Jobs holding slots, in grant order.</summary>
    [Id(1)] public List<SlotGrant> Running { get; set; } = [];
    /// <summary>Jobs waiting, head first.</summary>
    [Id(2)] public List<SlotGrant> Queue { get; set; } = [];
}
