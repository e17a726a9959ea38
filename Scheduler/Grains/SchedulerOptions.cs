namespace Orchestrator.Scheduler.Grains;

/// <summary>Configuration of the scheduler grain (bound from the silo's configuration).</summary>
public sealed class SchedulerOptions
{
    /// <summary>Worker slots on this cluster until <c>SetCapacityAsync</c> overrides them; defaults to the CPU count.</summary>
    public int WorkerSlots { get; set; } = Environment.ProcessorCount;
}
