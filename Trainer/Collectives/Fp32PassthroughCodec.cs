using System.Numerics;
using System.Runtime.InteropServices;
using Orchestrator.Trainer.Compression;

namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// The <c>none</c> codec: raw little-endian fp32, the wire format's identity case. Lives here so the
/// collectives work (and are checked) without the compression codecs; the compression registry's
/// own none codec is interchangeable with it.
/// </summary>
public sealed class Fp32PassthroughCodec : IGradientCodec
{
    /// <summary>The shared instance (stateless).</summary>
    public static Fp32PassthroughCodec Instance { get; } = new();

    /// <inheritdoc/>
    public string Name => "none";

    /// <inheritdoc/>
    public int EncodedBytes(int elements) => checked(elements * sizeof(float));

    /// <inheritdoc/>
    public void Encode(ReadOnlySpan<float> input, Span<byte> output, ulong seed) =>
        MemoryMarshal.AsBytes(input).CopyTo(output);

    /// <inheritdoc/>
    public void Decode(ReadOnlySpan<byte> encoded, Span<float> output) =>
        encoded[..(output.Length * sizeof(float))].CopyTo(MemoryMarshal.AsBytes(output));

    /// <inheritdoc/>
    public void DecodeAdd(ReadOnlySpan<byte> encoded, Span<float> accumulator)
    {
        // Unaligned reads: an encoding may sit at any byte offset of a gathered buffer.
        var values = MemoryMarshal.Cast<byte, float>(encoded[..(accumulator.Length * sizeof(float))]);
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var a = MemoryMarshal.Cast<float, Vector<float>>(accumulator);
            var v = MemoryMarshal.Cast<float, Vector<float>>(values);
            for (; i < a.Length; i++) a[i] += v[i];
            i *= Vector<float>.Count;
        }
        for (; i < accumulator.Length; i++) accumulator[i] += values[i];
    }
}
