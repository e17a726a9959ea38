using static TorchSharp.torch;

namespace Orchestrator.Trainer.PostTraining.AdaQuant;

/// <summary>One layer quantized: its dequantized weight and bias, and its input range.</summary>
/// <param name="Weight">The weight after quantize-dequantize (what the quantized model holds).</param>
/// <param name="Bias">The bias (fp32), or null when the layer has none.</param>
/// <param name="ActivationMin">Lower bound of the input range.</param>
/// <param name="ActivationMax">Upper bound of the input range.</param>
public sealed record QuantizedWeights(Tensor Weight, Tensor? Bias, float ActivationMin, float ActivationMax) : IDisposable
{
    /// <inheritdoc/>
    public void Dispose()
    {
        Weight.Dispose();
        Bias?.Dispose();
    }
}

/// <summary>
/// AdaQuant's outcome for one layer at one bit width: plain rounding (calibrated ranges, weights rounded to nearest) and
/// the result, which is AdaQuant's optimum unless that was no better than rounding on the held-out samples, in which case
/// it is rounding (so AdaQuant never returns a worse layer).
/// </summary>
/// <param name="WeightBits">Bits of the weights.</param>
/// <param name="ActivationBits">Bits of the input.</param>
/// <param name="Rounding">Plain rounding.</param>
/// <param name="Result">What the layer takes.</param>
/// <param name="RoundingMse">Output MSE against the full-precision layer with plain rounding, on the held-out samples.</param>
/// <param name="OptimizedMse">The same for AdaQuant's optimum (before the choice).</param>
/// <param name="UsedAdaQuant">Whether <paramref name="Result"/> is AdaQuant's optimum (false: rounding was kept).</param>
public sealed record AdaQuantResult(int WeightBits, int ActivationBits, QuantizedWeights Rounding, QuantizedWeights Result,
    double RoundingMse, double OptimizedMse, bool UsedAdaQuant) : IDisposable
{
    /// <summary>Output MSE of the layer taken, on the held-out samples.</summary>
    public double ResultMse => UsedAdaQuant ? OptimizedMse : RoundingMse;

    /// <inheritdoc/>
    public void Dispose()
    {
        Rounding.Dispose();
        if (!ReferenceEquals(Rounding, Result)) Result.Dispose();
    }
}
