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
/// goes through the exact <see cref="MvuePruner.Block"/> with the same u (rare; one mask test per step).
/// </summary>
internal static class Mvue12Kernel
{
    /// <summary>Prunes whole blocks; positions are one bit per block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop: skip tier-0 JIT
    public static void Prune(ReadOnlySpan<float> input, Span<float> kept, Span<byte> positions, ref CodecRandom rng, bool vectorized)
    {
        int blocks = input.Length / 2;
        int done = vectorized && Avx2.IsSupported ? PruneAvx2(input, kept, positions, blocks & ~7, ref rng) : 0;
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop: skip tier-0 JIT
    private static unsafe int PruneAvx2(ReadOnlySpan<float> input, Span<float> kept, Span<byte> positions, int blocks, ref CodecRandom rng)
    {
        if (blocks == 0) return 0;
        var s0 = rng.V0; var s1 = rng.V1; var s2 = rng.V2; var s3 = rng.V3;
        var absMask = Vector256.Create(0x7FFFFFFF).AsSingle();
        var minNormal = Vector256.Create(Int8Quantizer.MinNormal);
        var maxFinite = Vector256.Create(float.MaxValue);
        var zero = Vector256<float>.Zero;
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
                // Lanes outside the closed form's range (see ClosedFormHolds; a NaN S fails the first compare).
                var bad = Avx.Or(Avx.CompareNotLessThanOrEqual(s, maxFinite),
                    Avx.And(Avx.CompareGreaterThan(s, zero), Avx.CompareLessThan(s, minNormal)));
                int lanes = Avx.MoveMask(bad);
                if (lanes != 0) Patch(px, pk, pp, g, lanes, u);
            }
        }
        rng.V0 = s0; rng.V1 = s1; rng.V2 = s2; rng.V3 = s3;
        return blocks;
    }
}
