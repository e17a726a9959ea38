using System.Runtime.CompilerServices;
namespace Orchestrator.Trainer.Compression;

/// <summary>
/// How the N:M codecs walk a bucket: segments of whole blocks whose kept values fit one int8 chunk
/// (<see cref="WireFormat.QuantChunk"/>), so a segment's input and kept values stay in L1 between
/// stages. Segment block counts are multiples of 8 so every segment's position bits start on a byte.
/// </summary>
internal static class NmLayout
{
    /// <summary>Largest tail handled through a zero-padded copy: 8 blocks of at most 16 values.</summary>
    private const int PadCapacity = 8 * 16;

    public static int SegmentBlocks(int n) => Math.Max(8, (WireFormat.QuantChunk / n) & ~7);

    /// <summary>Bytes of position bits for <paramref name="blocks"/> blocks.</summary>
    public static int PositionBytes(int blocks, int n, int m) => (blocks * n * WireFormat.PositionBits(m) + 7) / 8;

    /// <summary>
    /// Prunes <paramref name="count"/> blocks whose values are <paramref name="input"/> (the last block
    /// may be partial: it is padded with zeros, which MVUE never picks over a non-zero and which decode
    /// to nothing). <paramref name="positions"/> starts at this segment's first (byte-aligned) position.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop: skip tier-0 JIT
    public static void PruneSegment(INmPruner pruner, ReadOnlySpan<float> input, int count, Span<float> kept, Span<byte> positions, ref CodecRandom rng)
    {
        int n = pruner.N, m = pruner.M;
        if (input.Length == count * m)
        {
            pruner.Prune(input, kept[..(count * n)], positions[..PositionBytes(count, n, m)], ref rng);
            return;
        }
        // Full blocks in place, in a multiple of 8 so the padded rest starts on a byte boundary.
        int head = (count - 1) & ~7;
        if (head > 0) pruner.Prune(input[..(head * m)], kept[..(head * n)], positions[..PositionBytes(head, n, m)], ref rng);
        int tail = count - head;
        Span<float> pad = stackalloc float[PadCapacity];
        pad.Clear();
        input[(head * m)..].CopyTo(pad);
        int posStart = PositionBytes(head, n, m);
        pruner.Prune(pad[..(tail * m)], kept.Slice(head * n, tail * n), positions.Slice(posStart, PositionBytes(tail, n, m)), ref rng);
    }

    /// <summary>Argument checks shared by the pruners.</summary>
    public static void CheckPrune(INmPruner pruner, int inputLength, int keptLength, int positionBytes)
    {
        if (inputLength % pruner.M != 0)
            throw new ArgumentException($"N:M prune input must be whole blocks of {pruner.M}; got {inputLength} values.");
        int blocks = inputLength / pruner.M;
        if (keptLength != blocks * pruner.N || positionBytes != PositionBytes(blocks, pruner.N, pruner.M))
            throw new ArgumentException($"N:M prune of {blocks} blocks needs {blocks * pruner.N} kept values and {PositionBytes(blocks, pruner.N, pruner.M)} position bytes.");
    }
}
