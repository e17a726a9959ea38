using Orchestrator.Trainer.Compression.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.LowPrecision;

/// <summary>
/// The asymmetric range quantizer of Banner et al. (ALGORITHMS.md section 5), as quantize-dequantize in fp32 torch ops on
/// the tensor's own device: s = (max - min) / (2^b - 1), q = clamp(round((x - min) / s + u), 0, 2^b - 1) with
/// u ~ U[-1/2, 1/2) for stochastic rounding (E[x^] = x inside the range) and u = 0 for deterministic rounding (|x^ - x|
/// &lt;= s/2 inside the range), x^ = q s + min. A zero range (max = min) returns min. Values outside [min, max] clamp to it.
/// </summary>
/// <remarks>
/// Simulated quantization: the result is fp32 holding one of 2^b levels per range, which shows what b bits do to
/// training, not what they would save in time. The codecs' <c>Int8Quantizer</c> is another law (symmetric, per 1024-value
/// chunk, 8 bits only, packed for the wire), so this one is separate.
/// </remarks>
public static class RangeQuantizer
{
    /// <summary>Levels minus one for <paramref name="bits"/> bits: 2^b - 1.</summary>
    public static double MaxLevel(int bits) => Math.Pow(2, bits) - 1;

    /// <summary>
    /// Quantizes <paramref name="x"/> to <paramref name="bits"/> bits over the range [<paramref name="min"/>,
    /// <paramref name="max"/>] (tensors broadcastable to x: one range per tensor, per channel, per sample...).
    /// With <paramref name="noise"/>, rounding is stochastic with uniforms drawn from it; without, to nearest.
    /// </summary>
    /// <exception cref="ArgumentException">A range bound is NaN or infinite (the values were not finite), or bits outside 1..24.</exception>
    public static Tensor Quantize(Tensor x, Tensor min, Tensor max, int bits, CounterUniform? noise)
    {
        if (!RangeIsFinite(min, max))
            throw new ArgumentException("cannot quantize non-finite values: the range (min, max) holds a NaN or an infinity");
        return QuantizeFinite(x, min, max, bits, noise);
    }

    /// <summary>
    /// <see cref="QuantizePerTensor"/>, or null when <paramref name="x"/> holds a NaN or an infinity: for callers where an
    /// exception cannot be thrown (a backward that libtorch calls back into) and non-finite values pass as they are.
    /// </summary>
    public static Tensor? TryQuantizePerTensor(Tensor x, int bits, CounterUniform? noise)
    {
        using var scope = NewDisposeScope();
        var (min, max) = (x.min(), x.max());
        return RangeIsFinite(min, max) ? QuantizeFinite(x, min, max, bits, noise).MoveToOuterDisposeScope() : null;
    }

    private static Tensor QuantizeFinite(Tensor x, Tensor min, Tensor max, int bits, CounterUniform? noise)
    {
        if (bits is < 1 or > 24) throw new ArgumentOutOfRangeException(nameof(bits), bits, "1..24 bits (fp32 holds 24 exactly)");
        using var scope = NewDisposeScope();
        double levels = MaxLevel(bits);
        var scale = max.sub(min).div(levels);
        var positive = scale.gt(0);
        // A zero range holds one value: every x maps to min (dividing by 1 there keeps the arithmetic finite).
        var safe = where(positive, scale, ones_like(scale));
        var y = x.sub(min).div(safe);
        // round(y + u) with u ~ U[-1/2, 1/2) is floor(y + v) with v ~ U[0, 1): E = y, exactly the stochastic rounding law.
        var q = noise is null ? y.round() : y.add(noise.Next(y.shape, y.device).to(y.dtype)).floor_();
        q = q.clamp_(0, levels);
        var result = where(positive, q.mul(safe).add(min), min.expand_as(q));
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>Quantizes with one range over the whole tensor (its own min and max): the gradients' rule.</summary>
    public static Tensor QuantizePerTensor(Tensor x, int bits, CounterUniform? noise)
    {
        using var scope = NewDisposeScope();
        return Quantize(x, x.min(), x.max(), bits, noise).MoveToOuterDisposeScope();
    }

    /// <summary>Quantizes with one range per index of dim 0 (min and max over the other dims): the weights' rule, per output channel.</summary>
    public static Tensor QuantizePerChannel(Tensor x, int bits, CounterUniform? noise = null)
    {
        using var scope = NewDisposeScope();
        var flat = x.reshape(x.shape[0], -1);
        return Quantize(flat, flat.amin([1], keepdim: true), flat.amax([1], keepdim: true), bits, noise).reshape(x.shape).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The activation range of a batch (Banner et al.): each sample's min and max over its non-batch dims, averaged over
    /// the batch, as two 0-d tensors.
    /// </summary>
    public static (Tensor Min, Tensor Max) BatchRange(Tensor x)
    {
        using var scope = NewDisposeScope();
        var rows = x.reshape(x.shape[0], -1);
        return (rows.amin([1]).mean().MoveToOuterDisposeScope(), rows.amax([1]).mean().MoveToOuterDisposeScope());
    }

    // NaN and infinity propagate into the min and max of the values they came from, so the bounds tell.
    private static bool RangeIsFinite(Tensor min, Tensor max)
    {
        using var scope = NewDisposeScope();
        return min.isfinite().all().item<bool>() && max.isfinite().all().item<bool>();
    }
}
