namespace Orchestrator.Trainer.Training;

/// <summary>What one training step did.</summary>
/// <param name="Loss">Mean loss over the whole global batch (all workers).</param>
/// <param name="Accuracy">Fraction of the global batch's rows predicted right (before the update).</param>
/// <param name="GlobalSamples">Samples in the global batch (before batch-augmentation copies).</param>
/// <param name="Applied">False when every worker skipped the update (non-finite gradient somewhere).</param>
/// <param name="StopAgreed">Some worker asked to stop (Ctrl+C, or a Stop directive): every worker stops after this step.</param>
/// <param name="Directive">The control plane's directive rank 0 broadcast with this step (every rank sees the same).</param>
public sealed record StepOutcome(double Loss, double Accuracy, int GlobalSamples, bool Applied, bool StopAgreed = false,
    TrainerDirective Directive = TrainerDirective.None);
