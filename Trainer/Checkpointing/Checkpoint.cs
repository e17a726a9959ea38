namespace Orchestrator.Trainer.Checkpointing;

/// <summary>A verified checkpoint: the position plus the serialized model and optimizer state.</summary>
/// <param name="ModelFingerprint">Identifies the architecture (kind, width, norm, input shape) so a
/// checkpoint is never loaded into a different model.</param>
/// <param name="SynchronizerState">Every worker's gradient-synchronizer state (error-feedback residuals);
/// empty when there is none, and in files written before the section existed.</param>
public sealed record Checkpoint(TrainingPosition Position, string ModelFingerprint, byte[] ModelState, byte[] OptimizerState, string Path,
    byte[] SynchronizerState);
