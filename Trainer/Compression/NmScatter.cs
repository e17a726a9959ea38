using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Orchestrator.Trainer.Compression;

/// <summary>
/// Decode side of N:M: spreads each block's N kept values to their positions (zeros elsewhere), or
/// adds them into an accumulator. Kept values that share a position add up, so bytes from any
/// encoder of the format decode to the same sum. 2:4 and 1:2 use AVX2 kernels driven by mask tables
/// indexed by one byte of position bits; other N:M a scalar loop.
/// </summary>
internal static class NmScatter
{
    /// <summary>For 2:4, entry b (one position byte = two blocks): permute indices into the two blocks'
    /// four kept values with zeros above (lanes 4-7). Output lane j of the first vector takes the kept
    /// value whose first slot lands there (index 0 or 2), else a zero (4); the second vector likewise for
    /// the second slots (1 or 3). Their sum is the dense pair, shared positions included.</summary>
    private static readonly int[] Permutes24 = BuildPermutes24();

    /// <summary>For 1:2, entry b (four position bits = four blocks): lane 2i + bit i set.</summary>
    private static readonly int[] Masks12 = BuildMasks12();

    private static int[] BuildPermutes24()
    {
        var t = GC.AllocateArray<int>(256 * 16, pinned: true);
        for (int b = 0; b < 256; b++)
        {
            int pa0 = b & 3, pa1 = (b >> 2) & 3, pb0 = (b >> 4) & 3, pb1 = b >> 6;
            for (int j = 0; j < 4; j++)
            {
                t[b * 16 + j] = pa0 == j ? 0 : 4;
                t[b * 16 + 4 + j] = pb0 == j ? 2 : 4;
                t[b * 16 + 8 + j] = pa1 == j ? 1 : 4;
                t[b * 16 + 12 + j] = pb1 == j ? 3 : 4;
            }
        }
        return t;
    }

    private static int[] BuildMasks12()
    {
        var t = GC.AllocateArray<int>(16 * 8, pinned: true);
        for (int b = 0; b < 16; b++)
            for (int i = 0; i < 4; i++)
                t[b * 8 + 2 * i + ((b >> i) & 1)] = -1;
        return t;
    }

    /// <summary>
    /// Writes (or adds) the dense values of <c>ceil(output.Length / m)</c> blocks; the last block may be
    /// partial (positions past the end carry zeros and are ignored). <paramref name="positions"/> starts
    /// at the first block's first position.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop: skip tier-0 JIT
    public static void Scatter(int n, int m, ReadOnlySpan<float> kept, ReadOnlySpan<byte> positions, Span<float> output, bool add, bool vectorized)
    {
        int fullBlocks = output.Length / m;
        int done = 0;
        if (vectorized && Avx2.IsSupported)
        {
            if (n == 2 && m == 4) done = Scatter24Avx2(kept, positions, output, fullBlocks & ~1, add);
            else if (n == 1 && m == 2) done = Scatter12Avx2(kept, positions, output, fullBlocks & ~7, add);
        }
        int bits = WireFormat.PositionBits(m);
        for (int b = done; b < fullBlocks; b++) ScatterBlock(n, bits, b, kept, positions, output.Slice(b * m, m), add);
        int rest = output.Length - fullBlocks * m;
        if (rest > 0)
        {
            Span<float> pad = stackalloc float[16];
            pad.Clear();
            ScatterBlock(n, bits, fullBlocks, kept, positions, pad[..m], add: false);
            var tail = output[(fullBlocks * m)..];
            if (add) for (int i = 0; i < rest; i++) tail[i] += pad[i];
            else pad[..rest].CopyTo(tail);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScatterBlock(int n, int bits, int block, ReadOnlySpan<float> kept, ReadOnlySpan<byte> positions, Span<float> dst, bool add)
    {
        if (!add) dst.Clear();
        for (int k = 0; k < n; k++)
        {
            int idx = block * n + k;
            dst[PositionPacking.Read(positions, idx, bits)] += kept[idx];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop: skip tier-0 JIT
    private static unsafe int Scatter24Avx2(ReadOnlySpan<float> kept, ReadOnlySpan<byte> positions, Span<float> output, int blocks, bool add)
    {
        fixed (float* pk = kept)
        fixed (byte* pp = positions)
        fixed (float* po = output)
        fixed (int* pm = Permutes24)
        {
            for (int b = 0; b < blocks; b += 2)
            {
                // Two blocks: four kept values in, eight dense values out. Picking +0 from the zeroed upper
                // lanes gives the same sums as masking with AND (x + +0 = x, -0 + +0 = +0), in three ops not five.
                var k = Sse.LoadVector128(pk + 2 * b).ToVector256();
                int* index = pm + 16 * pp[b >> 1];
                var v = Avx.Add(Avx2.PermuteVar8x32(k, Avx.LoadVector256(index)), Avx2.PermuteVar8x32(k, Avx.LoadVector256(index + 8)));
                if (add) v = Avx.Add(Avx.LoadVector256(po + 4 * b), v);
                Avx.Store(po + 4 * b, v);
            }
        }
        return blocks;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop: skip tier-0 JIT
    private static unsafe int Scatter12Avx2(ReadOnlySpan<float> kept, ReadOnlySpan<byte> positions, Span<float> output, int blocks, bool add)
    {
        var low = Vector256.Create(0, 0, 1, 1, 2, 2, 3, 3);
        var high = Vector256.Create(4, 4, 5, 5, 6, 6, 7, 7);
        fixed (float* pk = kept)
        fixed (byte* pp = positions)
        fixed (float* po = output)
        fixed (int* pm = Masks12)
        {
            for (int b = 0; b < blocks; b += 8)
            {
                // Eight blocks: one position byte, eight kept values, sixteen dense values.
                var k = Avx.LoadVector256(pk + b);
                int bits = pp[b >> 3];
                var v0 = Avx.And(Avx2.PermuteVar8x32(k, low), Avx.LoadVector256(pm + 8 * (bits & 15)).AsSingle());
                var v1 = Avx.And(Avx2.PermuteVar8x32(k, high), Avx.LoadVector256(pm + 8 * (bits >> 4)).AsSingle());
                if (add)
                {
                    v0 = Avx.Add(Avx.LoadVector256(po + 2 * b), v0);
                    v1 = Avx.Add(Avx.LoadVector256(po + 2 * b + 8), v1);
                }
                else
                {
                    // Decoding adds onto zero (the wire format's rule, as the scalar and torch decoders do): +0 + -0 is +0.
                    v0 = Avx.Add(Vector256<float>.Zero, v0);
                    v1 = Avx.Add(Vector256<float>.Zero, v1);
                }
                Avx.Store(po + 2 * b, v0);
                Avx.Store(po + 2 * b + 8, v1);
            }
        }
        return blocks;
    }
}
