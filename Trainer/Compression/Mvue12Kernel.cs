using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Orchestrator.Trainer.Compression;

/// <summary>
/// MVUE 1:2 in closed form (ALGORITHMS.md section 7): keep x_0 with probability a_0 / S (S = a_0 + a_1)
/// and send sign(x_kept) S. The test u S &lt; a_0 needs no division, keeps a lone non-zero exactly
/// (u S &lt; S for every u &lt; 1; a_0 = 0 is never picked) and S = a + 0 is exact.
/// The AVX2 kernel does eight blocks (one position byte) per step. The closed form needs a normal, finite S:
/// a block with a subnormal S (u S rounds on the subnormal grid), S past float.MaxValue or a non-finite value
/// goes through the exact <see cref="MvuePruner.Block"/> with the same u (rare; the AVX2 kernel tracks the
/// range of S with two vector ops per step and replays the random stream afterwards only when needed).
/// </summary>
internal static class Mvue12Kernel
{
    /// <summary>Prunes whole blocks; positions are one bit per block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop: skip tier-0 JIT
    public static void Prune(ReadOnlySpan<float> input, Span<float> kept, Span<byte> positions, ref CodecRandom rng, bool vectorized)
    {
        int blocks = input.Length / 2;
        int done = 0;
        if (vectorized && Avx2.IsSupported)
        {
            var start = rng;
            done = PruneAvx2(input, kept, positions, blocks & ~7, ref rng, out bool outOfRange);
            // Rare: some block is outside the closed form's range; the call stays out of the hot loop's method.
            if (outOfRange) Replay(input, kept, positions, done, start);
        }
        positions[(done / 8)..].Clear();
        for (int b = done; b < blocks; b++)
        {
            float x0 = input[2 * b], x1 = input[2 * b + 1];
            float s = MathF.Abs(x0) + MathF.Abs(x1);
            float u = rng.NextFloat();
            bool first;
            if (ClosedFormHolds(s))
            {
                first = u * s < MathF.Abs(x0);
                kept[b] = MathF.CopySign(s, first ? x0 : x1);
            }
            else
            {
                first = Exact(x0, x1, u, out kept[b]);
            }
            if (!first) positions[b >> 3] |= (byte)(1 << (b & 7));
        }
    }

    /// <summary>Whether the fp32 closed form is accurate for S = a_0 + a_1: zero, or normal and finite.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool ClosedFormHolds(float s) => s == 0f || (s >= Int8Quantizer.MinNormal && s <= float.MaxValue);

    /// <summary>The exact block; returns whether position 0 carries the kept value.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool Exact(float x0, float x1, float u, out float kept)
    {
        Span<float> pair = [x0, x1];
        Span<float> value = stackalloc float[1];
        Span<int> pos = stackalloc int[1];
        MvuePruner.Block(pair, 1, value, pos, u);
        kept = value[0];
        return pos[0] == 0;
    }

    /// <summary>Redoes the blocks of one eight-block step whose lanes are set in <paramref name="lanes"/>
    /// (lanes hold blocks 0,1,4,5,2,3,6,7) with the exact block and the lane's own u.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void Patch(float* px, float* pk, byte* pp, int g, int lanes, Vector256<float> u)
    {
        for (int lane = 0; lane < 8; lane++)
        {
            if ((lanes & (1 << lane)) == 0) continue;
            int j = (lane & 1) | ((lane & 2) << 1) | ((lane & 4) >> 1);
            int b = g + j;
            bool first = Exact(px[2 * b], px[2 * b + 1], u.GetElement(lane), out pk[b]);
            pp[g >> 3] = (byte)(first ? pp[g >> 3] & ~(1 << j) : pp[g >> 3] | (1 << j));
        }
    }

    /// <summary>Rare: some block the AVX2 kernel did is outside the closed form's range. Replays the random stream
    /// from <paramref name="start"/> (one step per eight blocks, as the kernel drew it) and patches those blocks.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void Replay(ReadOnlySpan<float> input, Span<float> kept, Span<byte> positions, int blocks, CodecRandom start)
    {
        var s0 = start.V0; var s1 = start.V1; var s2 = start.V2; var s3 = start.V3;
        fixed (float* px = input)
        fixed (float* pk = kept)
        fixed (byte* pp = positions)
        {
            for (int g = 0; g < blocks; g += 8)
            {
                var u = CodecRandom.Uniform24(CodecRandom.Step(ref s0, ref s1, ref s2, ref s3));
                int lanes = 0;
                for (int j = 0; j < 8; j++)
                {
                    int b = g + j;
                    // The lane of block j: the map 0,1,4,5,2,3,6,7 is its own inverse.
                    if (!ClosedFormHolds(MathF.Abs(px[2 * b]) + MathF.Abs(px[2 * b + 1])))
                        lanes |= 1 << ((j & 1) | ((j & 2) << 1) | ((j & 4) >> 1));
                }
                if (lanes != 0) Patch(px, pk, pp, g, lanes, u);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop: skip tier-0 JIT
    private static unsafe int PruneAvx2(ReadOnlySpan<float> input, Span<float> kept, Span<byte> positions, int blocks, ref CodecRandom rng, out bool outOfRange)
    {
        outOfRange = false;
        if (blocks == 0) return 0;
        var s0 = rng.V0; var s1 = rng.V1; var s2 = rng.V2; var s3 = rng.V3;
        var absMask = Vector256.Create(0x7FFFFFFF).AsSingle();
        // Range check of S without compares, as bits (S >= 0 or +NaN): the unsigned min of bits(S) - 1 is below
        // 0x7FFFFF iff some S is subnormal (a zero S wraps to the top), the max of bits(S) reaches 0x7F800000
        // iff some S is infinite or NaN.
        var lowest = Vector256<uint>.AllBitsSet;
        var highest = Vector256<int>.Zero;
        var oneU = Vector256.Create(1u);
        fixed (float* px = input)
        fixed (float* pk = kept)
        fixed (byte* pp = positions)
        {
            for (int g = 0; g < blocks; g += 8)
            {
                var r0 = Avx.LoadVector256(px + 2 * g);
                var r1 = Avx.LoadVector256(px + 2 * g + 8);
                // Even / odd elements; lanes hold blocks 0,1,4,5,2,3,6,7.
                var x0 = Avx.Shuffle(r0, r1, 0x88);
                var x1 = Avx.Shuffle(r0, r1, 0xDD);
                var a0 = Avx.And(x0, absMask);
                var s = Avx.Add(a0, Avx.And(x1, absMask));
                var u = CodecRandom.Uniform24(CodecRandom.Step(ref s0, ref s1, ref s2, ref s3));
                var first = Avx.CompareLessThan(Avx.Multiply(u, s), a0);
                var v = Avx.Or(s, Avx.AndNot(absMask, Avx.BlendVariable(x1, x0, first)));
                // 64-bit lane pairs (0,1),(4,5),(2,3),(6,7) -> block order.
                Avx.Store(pk + g, Avx2.Permute4x64(v.AsDouble(), 0xD8).AsSingle());
                int keepFirst = Avx.MoveMask(Avx2.Permute4x64(first.AsDouble(), 0xD8).AsSingle());
                pp[g >> 3] = (byte)~keepFirst;
                // Blocks outside the closed form's range (ClosedFormHolds) are only noticed here: no branch in the loop.
                lowest = Avx2.Min(lowest, Avx2.Subtract(s.AsUInt32(), oneU));
                highest = Avx2.Max(highest, s.AsInt32());
            }
            var low = Sse41.Min(lowest.GetLower(), lowest.GetUpper());
            low = Sse41.Min(low, Sse2.Shuffle(low.AsInt32(), 0x4E).AsUInt32());
            low = Sse41.Min(low, Sse2.Shuffle(low.AsInt32(), 0xB1).AsUInt32());
            var high = Sse41.Max(highest.GetLower(), highest.GetUpper());
            high = Sse41.Max(high, Sse2.Shuffle(high, 0x4E));
            high = Sse41.Max(high, Sse2.Shuffle(high, 0xB1));
            outOfRange = low.ToScalar() < 0x7FFFFFu || high.ToScalar() >= 0x7F800000;
        }
        rng.V0 = s0; rng.V1 = s1; rng.V2 = s2; rng.V3 = s3;
        return blocks;
    }
}
