namespace Orchestrator.Contracts;

/// <summary>
/// Names of the grain storage providers the silos register (memory in the embedded default and tests,
/// Redis for a multi-silo cluster). Grains name their storage through these constants only.
/// </summary>
public static class StorageNames
{
    /// <summary>Persisted job state machines (<c>JobGrain</c>).</summary>
    public const string Jobs = "jobs";

    /// <summary>Persisted worker-slot accounting and the admission queue (<c>SchedulerGrain</c>).</summary>
    public const string Scheduler = "scheduler";
}
