namespace Orchestrator.Trainer.Training;

/// <summary>
/// What the worker's controller (under an orchestrated job: the control plane, through the worker link) asks of the
/// gang. Rank 0 takes it and it travels in the step's reduction, so every rank applies it after the same step.
/// The trainer owns this type; the link translates the control plane's message into it.
/// </summary>
public enum TrainerDirective
{
    /// <summary>Keep training.</summary>
    None = 0,
    /// <summary>Checkpoint at the next step boundary, then exit (every rank).</summary>
    Stop = 1,
    /// <summary>Write a checkpoint at the next step boundary and keep training.</summary>
    Checkpoint = 2,
}
