using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Compression.Torch;

/// <summary>
/// Byte-level helpers for the wire format, all as torch ops on the tensor's own device: reinterpreting
/// float32 storage as bytes (TorchSharp 0.107 has no <c>view(dtype)</c>) and packing small integer
/// fields into an LSB-first bit stream without per-element C# loops.
/// </summary>
internal static class TensorBits
{
    /// <summary>Bytes of a float32 tensor as a new 1-d uint8 tensor (little-endian, as both x86 and CUDA store it).</summary>
    public static Tensor FloatsToBytes(Tensor floats)
    {
        using var scope = NewDisposeScope();
        var source = floats.contiguous().flatten();
        // Reinterpret instead of arithmetic so every bit pattern (signed zero, denormals) survives;
        // clone so the result owns its memory and never aliases the caller's gradient buffer.
        return Reinterpret(source, ScalarType.Byte, 4 * source.numel()).clone().MoveToOuterDisposeScope();
    }

    /// <summary>The first <paramref name="count"/> float32 values stored in a 1-d uint8 tensor, as a new tensor.</summary>
    public static Tensor BytesToFloats(Tensor bytes, long count)
    {
        using var scope = NewDisposeScope();
        var source = bytes.narrow(0, 0, 4 * count).contiguous();
        // A float view needs a 4-byte aligned start; a slice of a larger receive buffer may not have one.
        if (source.storage_offset() % 4 != 0)
            source = source.clone();
        return Reinterpret(source, ScalarType.Float32, count).clone().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A 1-d view of <paramref name="count"/> elements of <paramref name="dtype"/> over the storage of the
    /// contiguous 1-d <paramref name="source"/>, starting at its first byte. <c>set_</c> attaches the
    /// storage while keeping the receiver's dtype (storages are untyped in libtorch); <c>as_strided</c>
    /// then sets the length and offset in the new element size, checked against the storage's bytes.
    /// </summary>
    private static Tensor Reinterpret(Tensor source, ScalarType dtype, long count)
    {
        long sourceItem = source.ElementSize;
        long targetItem = dtype == ScalarType.Byte ? 1 : 4;
        long byteOffset = source.storage_offset() * sourceItem;
        if (byteOffset % targetItem != 0)
            throw new ArgumentException("The source does not start on an element boundary of the target dtype.");
        using var _ = no_grad();
        using var holder = empty(0, dtype, source.device);
        using var attached = holder.set_(source.narrow(0, 0, 0));
        return attached.as_strided([count], [1], byteOffset / targetItem);
    }

    /// <summary>
    /// Packs integer fields (0 &lt;= f &lt; 2^bits) as <paramref name="bits"/>-bit fields, LSB-first:
    /// field j occupies stream bits [j*bits, (j+1)*bits), stream bit k is bit k%8 of byte k/8, and the
    /// last byte is zero-padded. Returns ceil(count*bits/8) bytes.
    /// </summary>
    public static Tensor Pack(Tensor fields, int bits)
    {
        using var scope = NewDisposeScope();
        var device = fields.device;
        long count = fields.numel();
        long bytes = (count * bits + 7) / 8;
        if (bits == 0 || count == 0)
            return zeros(bytes, ScalarType.Byte, device).MoveToOuterDisposeScope();
        var values = fields.to(ScalarType.Int64).flatten();
        Tensor packed;
        if (8 % bits == 0)
        {
            // Whole fields per byte (1, 2, 4 or 8 bits): shift each field of a byte's row into place.
            // The fields of a byte never overlap, so their sum is their bitwise or.
            int perByte = 8 / bits;
            var rows = nn.functional.pad(values, [0, bytes * perByte - count]).view(bytes, perByte);
            var shifts = arange(perByte, ScalarType.Int64, device).mul(bits);
            packed = rows.bitwise_left_shift(shifts).sum(dim: 1);
        }
        else
        {
            // Fields straddle bytes (3, 5, 6, 7 or more bits): spread every field into single bits,
            // which form the stream in order, then gather each run of 8 stream bits into a byte.
            var fieldBits = values.unsqueeze(1).bitwise_right_shift(arange(bits, ScalarType.Int64, device)).bitwise_and(1).flatten();
            var rows = nn.functional.pad(fieldBits, [0, bytes * 8 - count * bits]).view(bytes, 8);
            packed = rows.bitwise_left_shift(arange(8, ScalarType.Int64, device)).sum(dim: 1);
        }
        return packed.to(ScalarType.Byte).MoveToOuterDisposeScope();
    }

    /// <summary>Inverse of <see cref="Pack"/>: the first <paramref name="count"/> fields of the stream, as int64.</summary>
    public static Tensor Unpack(Tensor packed, long count, int bits)
    {
        using var scope = NewDisposeScope();
        var device = packed.device;
        if (bits == 0 || count == 0)
            return zeros(count, ScalarType.Int64, device).MoveToOuterDisposeScope();
        long bytes = (count * bits + 7) / 8;
        var stream = packed.narrow(0, 0, bytes).to(ScalarType.Int64);
        Tensor fields;
        if (8 % bits == 0)
        {
            int perByte = 8 / bits;
            var shifts = arange(perByte, ScalarType.Int64, device).mul(bits);
            fields = stream.unsqueeze(1).bitwise_right_shift(shifts).bitwise_and((1 << bits) - 1).flatten().narrow(0, 0, count);
        }
        else
        {
            var streamBits = stream.unsqueeze(1).bitwise_right_shift(arange(8, ScalarType.Int64, device)).bitwise_and(1).flatten();
            var perField = streamBits.narrow(0, 0, count * bits).view(count, bits);
            fields = perField.bitwise_left_shift(arange(bits, ScalarType.Int64, device)).sum(dim: 1);
        }
        return fields.contiguous().MoveToOuterDisposeScope();
    }
}
