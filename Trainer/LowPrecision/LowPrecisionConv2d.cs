using Orchestrator.Trainer.Devices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.LowPrecision;

/// <summary>A 2-d convolution on the low-precision path (see <see cref="LowPrecisionLayer"/>).</summary>
public sealed class LowPrecisionConv2d : LowPrecisionLayer
{
    private readonly ConvolutionShape shape;

    /// <summary>Wraps <paramref name="conv"/>, whose parameters train.</summary>
    public LowPrecisionConv2d(Conv2d conv, LowPrecisionTraining lowPrecision) : base(nameof(LowPrecisionConv2d), conv, lowPrecision)
    {
        shape = ConvolutionShape.From(conv);
    }

    /// <inheritdoc/>
    protected override Tensor Gemm(Tensor input, Tensor weight, Tensor? bias) =>
        nn.functional.conv2d(input, weight, bias, shape.Stride, shape.Padding, shape.Dilation, shape.Groups);
}
