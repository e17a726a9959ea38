using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Compression.Torch;

/// <summary>
/// The int8 part of the wire format as torch ops, shared by <see cref="TorchInt8Codec"/> (whole bucket)
/// and <see cref="TorchNmInt8Codec"/> (the kept values): float32 scales[ceil(k/1024)] then uint8 q[k].
/// </summary>
internal static class TorchInt8Quantizer
{
    /// <summary>Quantizes the 1-d float32 <paramref name="values"/> (k of them) into
    /// <see cref="WireFormat.Int8Bytes"/>(k) bytes, drawing the rounding noise from <paramref name="uniform"/>.</summary>
    public static Tensor Encode(Tensor values, CounterUniform uniform)
    {
        using var scope = NewDisposeScope();
        var device = values.device;
        long k = values.numel();
        long chunks = (k + WireFormat.QuantChunk - 1) / WireFormat.QuantChunk;
        if (k == 0)
            return empty(0, ScalarType.Byte, device).MoveToOuterDisposeScope();
        // Zero padding to whole chunks changes no chunk's max and quantizes to q = 0 (dropped below).
        var rows = nn.functional.pad(values.flatten(), [0, chunks * WireFormat.QuantChunk - k]).view(chunks, WireFormat.QuantChunk);
        // The fused kernels' rule (Int8Quantizer.ChunkScale): max / 127 rounded while that is normal, one ulp
        // less where 127 x that overflows (max = float.MaxValue), the smallest float >= max / 127 below 2^-126
        // (so a chunk of tiny values never gets scale 0 and max / scale <= 127 holds exactly); NaN for a chunk
        // with a NaN or an infinity (the non-finite rule: every q = 0, the chunk decodes to NaN).
        var finite = rows.isfinite().all(1, keepdim: true);
        var max = where(finite, rows.abs(), zeros_like(rows)).amax([1], keepdim: true);
        var scale = max.div(127f);
        scale = where(scale.mul(127f).isinf(), scale.nextafter(zeros_like(scale)), scale);
        var below = scale.lt(Int8Quantizer.MinNormal).logical_and(scale.to(ScalarType.Float64).mul(127.0).lt(max.to(ScalarType.Float64)));
        scale = where(below, scale.nextafter(full_like(scale, float.PositiveInfinity)), scale);
        // An all-zero chunk has scale 0 and only zeros; dividing by 1 there keeps them 0 without a NaN.
        var safe = where(scale.gt(0), scale, ones_like(scale));
        var scaled = where(finite, rows, zeros_like(rows)).div(safe);
        var floor = scaled.floor();
        var noise = uniform.Next([chunks, WireFormat.QuantChunk], device);
        // Stochastic rounding: round up with probability frac, so E[q] = x/scale. An exact 0 has
        // frac 0 and u < 0 never holds, so it stays 0. The clamp only catches x/scale landing a hair
        // above 127 through the rounding of scale itself (its frac is ~1e-6, so the bias is negligible).
        var q = floor.add(noise.lt(scaled.sub(floor)).to(ScalarType.Float32)).clamp(-127f, 127f);
        var stored = q.add(127f).to(ScalarType.Byte).flatten().narrow(0, 0, k);
        scale = where(finite, scale, full_like(scale, float.NaN));
        return cat([TensorBits.FloatsToBytes(scale), stored]).MoveToOuterDisposeScope();
    }

    /// <summary>Decodes <paramref name="count"/> values from the int8 layout at the start of <paramref name="encoded"/>.</summary>
    public static Tensor Decode(Tensor encoded, long count)
    {
        using var scope = NewDisposeScope();
        var device = encoded.device;
        if (count == 0)
            return empty(0, ScalarType.Float32, device).MoveToOuterDisposeScope();
        long chunks = (count + WireFormat.QuantChunk - 1) / WireFormat.QuantChunk;
        var scale = TensorBits.BytesToFloats(encoded, chunks).view(chunks, 1);
        var q = encoded.narrow(0, 4 * chunks, count).to(ScalarType.Float32).sub(127f);
        var rows = nn.functional.pad(q, [0, chunks * WireFormat.QuantChunk - count]).view(chunks, WireFormat.QuantChunk);
        // One fp32 multiply (q - 127) * scale per value: exactly rounded, so every implementation
        // decodes the same bytes to the same floats and ranks stay bit-identical.
        return rows.mul(scale).flatten().narrow(0, 0, count).contiguous().MoveToOuterDisposeScope();
    }
}
