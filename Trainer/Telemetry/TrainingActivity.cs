namespace Orchestrator.Trainer.Telemetry;

/// <summary>What a worker is doing right now, for the control plane's stall watch: steps, an evaluation or a checkpoint.</summary>
public enum TrainingActivity
{
    /// <summary>Taking optimizer steps (the step count should go up).</summary>
    Training,

    /// <summary>Evaluating on the test set (no steps meanwhile).</summary>
    Evaluating,

    /// <summary>Writing a checkpoint (no steps meanwhile).</summary>
    Checkpointing,
}
