using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.LowPrecision;

/// <summary>A fully connected layer on the low-precision path (see <see cref="LowPrecisionLayer"/>).</summary>
public sealed class LowPrecisionLinear : LowPrecisionLayer
{
    /// <summary>Wraps <paramref name="linear"/>, whose parameters train.</summary>
    public LowPrecisionLinear(Linear linear, LowPrecisionTraining lowPrecision) : base(nameof(LowPrecisionLinear), linear, lowPrecision)
    {
    }

    /// <inheritdoc/>
    protected override Tensor Gemm(Tensor input, Tensor weight, Tensor? bias) => nn.functional.linear(input, weight, bias);
}
