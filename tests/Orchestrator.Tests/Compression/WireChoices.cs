using System.Runtime.InteropServices;
using Orchestrator.Trainer.Compression;

namespace Orchestrator.Tests.Compression;

/// <summary>
/// What one encoding chose for each element, read straight from the bytes (<see cref="WireFormat"/>), so
/// the random decisions of two implementations can be compared without trusting either decoder: whether
/// an N:M codec kept the element, and for the int8 codecs the level q (-127..127) it was rounded to and
/// the scale of its chunk. Codecs without pruning keep every element; without int8, level and scale stay 0.
/// </summary>
internal sealed class WireChoices
{
    public readonly bool[] Kept;
    public readonly int[] Level;
    public readonly float[] Scale;

    private WireChoices(int elements)
    {
        Kept = new bool[elements];
        Level = new int[elements];
        Scale = new float[elements];
    }

    /// <param name="pruning">N:M of an nm codec, or null for int8 alone.</param>
    /// <param name="quantized">Whether values travel as int8 (int8, nm+int8) rather than fp32.</param>
    public static WireChoices Read(ReadOnlySpan<byte> encoded, int elements, (int N, int M)? pruning, bool quantized)
    {
        var choices = new WireChoices(elements);
        if (pruning is not { } nm)
        {
            Assert.True(quantized, "only int8 has no pruning stage");
            for (int i = 0; i < elements; i++) choices.Kept[i] = true;
            choices.ReadLevels(encoded, elements, i => i);
            return choices;
        }

        int keptTotal = WireFormat.Blocks(elements, nm.M) * nm.N;
        int valueBytes = quantized ? WireFormat.Int8Bytes(keptTotal) : 4 * keptTotal;
        var positions = encoded[valueBytes..];
        int bits = WireFormat.PositionBits(nm.M);
        // Kept value k of block k / N sits at in-block position positions[k]; element -1 = past the end (padding).
        var element = new int[keptTotal];
        for (int k = 0; k < keptTotal; k++)
        {
            int i = k / nm.N * nm.M + PositionPacking.Read(positions, k, bits);
            element[k] = i < elements ? i : -1;
            if (i < elements) choices.Kept[i] = true;
        }
        if (quantized) choices.ReadLevels(encoded, keptTotal, k => element[k]);
        return choices;
    }

    /// <summary>Levels and scales of the int8 layout at the start of <paramref name="encoded"/> (<paramref name="count"/> values).</summary>
    private void ReadLevels(ReadOnlySpan<byte> encoded, int count, Func<int, int> elementOf)
    {
        int chunks = (count + WireFormat.QuantChunk - 1) / WireFormat.QuantChunk;
        var scales = MemoryMarshal.Cast<byte, float>(encoded[..(4 * chunks)]);
        var q = encoded.Slice(4 * chunks, count);
        for (int k = 0; k < count; k++)
        {
            int i = elementOf(k);
            if (i < 0) continue;
            Level[i] = q[k] - 127;
            Scale[i] = scales[k / WireFormat.QuantChunk];
        }
    }
}
