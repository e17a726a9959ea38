namespace Orchestrator.Trainer.LowPrecision;

/// <summary>One step's low-precision figures, in <c>metrics.jsonl</c> under <c>low_precision</c>.</summary>
/// <param name="WeightBits">Bits of the weights (32 = fp32).</param>
/// <param name="ActivationBits">Bits of the layer inputs (32 = fp32).</param>
/// <param name="GradientBits">Bits of the output gradients (32 = fp32).</param>
/// <param name="GradientSparsity">Measured fraction of zeros in this step's pruned output gradients; null without gradient sparsity.</param>
/// <param name="MaskDensity">Kept fraction of the masked layers' weights; null without weight masks.</param>
/// <param name="MaskSeconds">Time this step spent recomputing masks; null without weight masks.</param>
public sealed record LowPrecisionRecord(int WeightBits, int ActivationBits, int GradientBits, double? GradientSparsity, double? MaskDensity, double? MaskSeconds);
