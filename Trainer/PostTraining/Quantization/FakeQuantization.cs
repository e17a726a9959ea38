using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.PostTraining.Quantization;

/// <summary>
/// Quantize-dequantize that autograd can differentiate, for AdaQuant: the asymmetric law of <c>RangeQuantizer</c>
/// (s = (max - min)/(2^b - 1), x^ = clamp(round((x - min)/s), 0, 2^b - 1) s + min, round to nearest), with the rounding
/// passed straight through so gradients reach x, and the range bounds through s and min (as in CalibTIP's learned
/// ranges). The forward values equal <c>RangeQuantizer.Quantize</c>'s for any range wider than <see cref="MinScale"/>.
/// </summary>
public static class FakeQuantization
{
    /// <summary>Smallest step: a range that collapses while it is learned stays a valid, finite quantizer.</summary>
    public const double MinScale = 1e-8;

    /// <summary><paramref name="x"/> quantized to <paramref name="bits"/> over [min, max] (tensors broadcastable to x).</summary>
    public static Tensor Apply(Tensor x, Tensor min, Tensor max, int bits)
    {
        double levels = Math.Pow(2, bits) - 1;
        using var scope = NewDisposeScope();
        var scale = max.sub(min).clamp_min(MinScale).div(levels);
        var y = x.sub(min).div(scale);
        var rounded = y.add(y.round().sub(y).detach());
        return rounded.clamp(0, levels).mul(scale).add(min).MoveToOuterDisposeScope();
    }

    /// <summary>Each output channel's (min, max) of a weight, shaped [out, 1, ...] to broadcast against it.</summary>
    public static (Tensor Min, Tensor Max) ChannelRange(Tensor weight)
    {
        using var scope = NewDisposeScope();
        var flat = weight.detach().reshape(weight.shape[0], -1);
        var shape = new long[weight.dim()];
        Array.Fill(shape, 1L);
        shape[0] = weight.shape[0];
        return (flat.amin([1]).reshape(shape).MoveToOuterDisposeScope(), flat.amax([1]).reshape(shape).MoveToOuterDisposeScope());
    }
}
