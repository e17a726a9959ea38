using Orchestrator.Spec;
using System.Buffers.Binary;
using Orchestrator.Trainer.Compression;

namespace Orchestrator.Tests.Collectives;

/// <summary>
/// A deterministic lossy codec for the collectives' tests: each value is stochastically rounded to
/// its top 16 bits (bfloat16), with the randomness drawn from the seed and the index. Lossy enough
/// that an owner keeping its fp32 sum instead of the decoded encoding would differ from its peers.
/// </summary>
internal sealed class StochasticBfloat16TestCodec : IGradientCodec
{
    public string Name => "bf16-test";

    /// <summary>Lossy like int8, so algorithms treat it as a compressing codec.</summary>
    public CodecKind Kind => CodecKind.Int8;

    public int EncodedBytes(int elements) => 2 * elements;

    public void Encode(ReadOnlySpan<float> input, Span<byte> output, ulong seed)
    {
        for (int i = 0; i < input.Length; i++)
        {
            uint bits = BitConverter.SingleToUInt32Bits(input[i]);
            // Adding a uniform 16-bit draw to the dropped bits rounds the magnitude up with probability = their fraction.
            uint noise = (uint)(Mix(seed, i) & 0xFFFF);
            uint rounded = (uint)Math.Min((ulong)bits + noise, 0xFFFFFFFFUL) >> 16;
            BinaryPrimitives.WriteUInt16LittleEndian(output[(2 * i)..], (ushort)rounded);
        }
    }

    public void Decode(ReadOnlySpan<byte> encoded, Span<float> output)
    {
        for (int i = 0; i < output.Length; i++) output[i] = Value(encoded, i);
    }

    public void DecodeAdd(ReadOnlySpan<byte> encoded, Span<float> accumulator)
    {
        for (int i = 0; i < accumulator.Length; i++) accumulator[i] += Value(encoded, i);
    }

    private static float Value(ReadOnlySpan<byte> encoded, int i) =>
        BitConverter.UInt32BitsToSingle((uint)BinaryPrimitives.ReadUInt16LittleEndian(encoded[(2 * i)..]) << 16);

    private static ulong Mix(ulong seed, int index)
    {
        ulong z = seed ^ ((ulong)index * 0x9E3779B97F4A7C15UL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
