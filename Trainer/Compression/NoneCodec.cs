using Orchestrator.Spec;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Orchestrator.Trainer.Compression;

/// <summary>No compression: the wire bytes are the fp32 values themselves (little-endian), bit-exact.</summary>
public sealed class NoneCodec : IGradientCodec
{
    /// <inheritdoc />
    public CodecKind Kind => CodecKind.None;

    /// <inheritdoc />
    public string Name => Kind.SpecName();

    /// <inheritdoc />
    public int EncodedBytes(int elements) => 4 * elements;

    /// <inheritdoc />
    public void Encode(ReadOnlySpan<float> input, Span<byte> output, ulong seed)
    {
        CodecChecks.Encode(this, input.Length, output.Length);
        MemoryMarshal.AsBytes(input).CopyTo(output);
    }

    /// <inheritdoc />
    public void Decode(ReadOnlySpan<byte> encoded, Span<float> output)
    {
        CodecChecks.Decode(this, encoded.Length, output.Length);
        encoded.CopyTo(MemoryMarshal.AsBytes(output));
    }

    /// <inheritdoc />
    public void DecodeAdd(ReadOnlySpan<byte> encoded, Span<float> accumulator)
    {
        CodecChecks.Decode(this, encoded.Length, accumulator.Length);
        var values = MemoryMarshal.Cast<byte, float>(encoded);
        int i = 0;
        var acc = MemoryMarshal.Cast<float, Vector<float>>(accumulator);
        var add = MemoryMarshal.Cast<float, Vector<float>>(values);
        for (int v = 0; v < acc.Length; v++) acc[v] += add[v];
        i = acc.Length * Vector<float>.Count;
        for (; i < accumulator.Length; i++) accumulator[i] += values[i];
    }
}
