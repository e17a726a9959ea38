namespace Orchestrator.Contracts.Models;

/// <summary>The lifecycle phase of a job, owned by its job grain.</summary>
public enum JobPhase
{
    /// <summary>Admitted, waiting for all of its worker slots (gang scheduling).</summary>
    Pending,
    /// <summary>Workers are being started.</summary>
    Launching,
    /// <summary>All workers are training.</summary>
    Running,
    /// <summary>Checkpointing at a step boundary before relaunching with another worker count.</summary>
    Rescaling,
    /// <summary>Finished every epoch.</summary>
    Succeeded,
    /// <summary>Gave up (restarts exhausted, bad spec, launcher failure); the reason is recorded.</summary>
    Failed,
    /// <summary>Stopped by the user.</summary>
    Cancelled,
}
