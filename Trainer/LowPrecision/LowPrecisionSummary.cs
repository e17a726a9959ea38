namespace Orchestrator.Trainer.LowPrecision;

/// <summary>The run's low-precision figures, in <c>summary.json</c> under <c>low_precision</c>.</summary>
/// <param name="Quantize">training.quantize as a label (<c>w8 a8 g8 stochastic bifurcation</c>, <c>fp32</c>).</param>
/// <param name="WeightBits">Bits of the weights (32 = fp32).</param>
/// <param name="ActivationBits">Bits of the layer inputs (32 = fp32).</param>
/// <param name="GradientBits">Bits of the output gradients (32 = fp32).</param>
/// <param name="GradientSparsity">training.gradient_sparsity as a label (<c>1:2 mvue</c>); null when off.</param>
/// <param name="MeasuredGradientSparsity">Mean over this run's steps of the measured fraction of zeros in the pruned gradients.</param>
/// <param name="WeightSparsity">model.weight_sparsity as a label (<c>2:4 transposable greedy</c>); null when off.</param>
/// <param name="MaskDensity">Kept fraction of the masked layers' weights at the end.</param>
/// <param name="OverallDensity">Kept fraction of all conv and linear weights at the end (dense layers count as kept).</param>
/// <param name="MaskedLayers">Layers with a mask (the others' shapes are not tiled by the pattern and stay dense).</param>
/// <param name="Layers">Conv and linear layers on the low-precision path.</param>
/// <param name="MaskRecomputations">Mask recomputations in this run.</param>
/// <param name="MaskSeconds">Time they took in all.</param>
public sealed record LowPrecisionSummary(string Quantize, int WeightBits, int ActivationBits, int GradientBits,
    string? GradientSparsity, double? MeasuredGradientSparsity, string? WeightSparsity, double? MaskDensity, double? OverallDensity,
    int MaskedLayers, int Layers, long MaskRecomputations, double MaskSeconds);
