using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Orchestrator.Trainer.Compression;

/// <summary>
/// MVUE 2:4 in closed form (ALGORITHMS.md section 7, PLATFORM.md "Codec speed"). With a_i = |x_i|,
/// S = sum a_i and K = min(S/2, smallest all-but-one sum): p_i = min(1, a_i/K) and the kept value
/// x_i/p_i = sign(x_i) max(a_i, K), so one reciprocal per block and no per-element division.
/// K is min(S/2, ...) rather than S - a_max because S - a_max in fp32 need not equal the other three's
/// sum, which would break the exact keeping of blocks with two non-zeros. Systematic sampling with one
/// u ~ U[0,1) (23 bits, so u + 1 is exact): the first kept index is the number of cumulative sums
/// C1..C3 at or below u, the second the number at or below u + 1.
/// The AVX2 kernel does eight blocks per step after transposing them into four columns.
/// </summary>
internal static class Mvue24Kernel
{
    /// <summary>Prunes whole blocks; positions are 4 bits per block (2 x 2 bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop: skip tier-0 JIT
    public static void Prune(ReadOnlySpan<float> input, Span<float> kept, Span<byte> positions, ref CodecRandom rng, bool vectorized)
    {
        int blocks = input.Length / 4;
        int done = vectorized && Avx2.IsSupported ? PruneAvx2(input, kept, positions, blocks & ~7, ref rng) : 0;
        // Scalar tail: done is a multiple of 8, so the remaining positions start on a byte.
        positions[(done / 2)..].Clear();
        for (int b = done; b < blocks; b++)
        {
            Block(input.Slice(4 * b, 4), rng.NextFloat23(), out float v0, out float v1, out int p0, out int p1);
            kept[2 * b] = v0;
            kept[2 * b + 1] = v1;
            positions[b >> 1] |= (byte)((p0 | (p1 << 2)) << (4 * (b & 1)));
        }
    }

    /// <summary>One block, the same operations as one lane of the AVX2 kernel.</summary>
    public static void Block(ReadOnlySpan<float> x, float u, out float v0, out float v1, out int p0, out int p1)
    {
        float a0 = MathF.Abs(x[0]), a1 = MathF.Abs(x[1]), a2 = MathF.Abs(x[2]), a3 = MathF.Abs(x[3]);
        float s01 = a0 + a1, s23 = a2 + a3, s = s01 + s23;
        float minT = MathF.Min(MathF.Min(a1 + s23, a0 + s23), MathF.Min(s01 + a3, s01 + a2));
        float k = MathF.Min(s * 0.5f, minT);
        float invK = 1f / k;
        float c1 = P(a0, k, invK), c2 = c1 + P(a1, k, invK), c3 = c2 + P(a2, k, invK);
        float u1 = u + 1f;
        p0 = (c1 <= u ? 1 : 0) + (c2 <= u ? 1 : 0) + (c3 <= u ? 1 : 0);
        p1 = (c1 <= u1 ? 1 : 0) + (c2 <= u1 ? 1 : 0) + (c3 <= u1 ? 1 : 0);
        v0 = Kept(x[p0], k);
        v1 = Kept(x[p1], k);
        if (p0 == p1)
        {
            // Only when the block has < 2 non-zeros (total probability < 2): the second slot is a zero.
            v1 = 0f;
            p1 ^= 1;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float P(float a, float k, float invK) => a > 0f ? (a >= k ? 1f : a * invK) : 0f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Kept(float x, float k) => x != 0f ? MathF.CopySign(MathF.Max(MathF.Abs(x), k), x) : 0f;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop: skip tier-0 JIT
    private static unsafe int PruneAvx2(ReadOnlySpan<float> input, Span<float> kept, Span<byte> positions, int blocks, ref CodecRandom rng)
    {
        if (blocks == 0) return 0;
        var s0 = rng.V0; var s1 = rng.V1; var s2 = rng.V2; var s3 = rng.V3;
        var absMask = Vector256.Create(0x7FFFFFFF).AsSingle();
        var one = Vector256.Create(1f);
        var half = Vector256.Create(0.5f);
        var zero = Vector256<float>.Zero;
        // Column lanes hold blocks 0,2,4,6,1,3,5,7 (the transpose's order): block b's 4 bits go to bit 4b.
        var shifts = Vector256.Create(0u, 8, 16, 24, 4, 12, 20, 28);
        fixed (float* px = input)
        fixed (float* pk = kept)
        fixed (byte* pp = positions)
        {
            for (int g = 0; g < blocks; g += 8)
            {
                float* p = px + 4 * g;
                var r0 = Avx.LoadVector256(p);
                var r1 = Avx.LoadVector256(p + 8);
                var r2 = Avx.LoadVector256(p + 16);
                var r3 = Avx.LoadVector256(p + 24);
                var t0 = Avx.UnpackLow(r0, r1);
                var t1 = Avx.UnpackHigh(r0, r1);
                var t2 = Avx.UnpackLow(r2, r3);
                var t3 = Avx.UnpackHigh(r2, r3);
                var x0 = Avx.Shuffle(t0, t2, 0x44);
                var x1 = Avx.Shuffle(t0, t2, 0xEE);
                var x2 = Avx.Shuffle(t1, t3, 0x44);
                var x3 = Avx.Shuffle(t1, t3, 0xEE);
                var a0 = Avx.And(x0, absMask);
                var a1 = Avx.And(x1, absMask);
                var a2 = Avx.And(x2, absMask);
                var a3 = Avx.And(x3, absMask);

                var s01 = Avx.Add(a0, a1);
                var s23 = Avx.Add(a2, a3);
                var sum = Avx.Add(s01, s23);
                var minT = Avx.Min(Avx.Min(Avx.Add(a1, s23), Avx.Add(a0, s23)), Avx.Min(Avx.Add(s01, a3), Avx.Add(s01, a2)));
                var k = Avx.Min(Avx.Multiply(sum, half), minT);
                var invK = Avx.Divide(one, k);

                var nz0 = Avx.CompareGreaterThan(a0, zero);
                var nz1 = Avx.CompareGreaterThan(a1, zero);
                var nz2 = Avx.CompareGreaterThan(a2, zero);
                var nz3 = Avx.CompareGreaterThan(a3, zero);
                // p = 1 where a >= K (no a * (1/K) rounding below 1), 0 where a = 0 (clears 0 * inf = NaN when K = 0).
                var c1 = Avx.And(Avx.BlendVariable(Avx.Multiply(a0, invK), one, Avx.CompareGreaterThanOrEqual(a0, k)), nz0);
                var c2 = Avx.Add(c1, Avx.And(Avx.BlendVariable(Avx.Multiply(a1, invK), one, Avx.CompareGreaterThanOrEqual(a1, k)), nz1));
                var c3 = Avx.Add(c2, Avx.And(Avx.BlendVariable(Avx.Multiply(a2, invK), one, Avx.CompareGreaterThanOrEqual(a2, k)), nz2));

                var u = CodecRandom.Uniform23(CodecRandom.Step(ref s0, ref s1, ref s2, ref s3));
                var u1 = Avx.Add(u, one);
                var m1 = Avx.CompareLessThanOrEqual(c1, u);
                var m2 = Avx.CompareLessThanOrEqual(c2, u);
                var m3 = Avx.CompareLessThanOrEqual(c3, u);
                var n1 = Avx.CompareLessThanOrEqual(c1, u1);
                var n2 = Avx.CompareLessThanOrEqual(c2, u1);
                var n3 = Avx.CompareLessThanOrEqual(c3, u1);

                // Kept candidates sign(x) max(a, K), zero where x = 0.
                var k0 = Avx.And(Avx.Or(Avx.Max(a0, k), Avx.AndNot(absMask, x0)), nz0);
                var k1 = Avx.And(Avx.Or(Avx.Max(a1, k), Avx.AndNot(absMask, x1)), nz1);
                var k2 = Avx.And(Avx.Or(Avx.Max(a2, k), Avx.AndNot(absMask, x2)), nz2);
                var k3 = Avx.And(Avx.Or(Avx.Max(a3, k), Avx.AndNot(absMask, x3)), nz3);
                // C1 <= C2 <= C3, so the masks are prefixes and chained blends select element pos.
                var v0 = Avx.BlendVariable(Avx.BlendVariable(Avx.BlendVariable(k0, k1, m1), k2, m2), k3, m3);
                var v1 = Avx.BlendVariable(Avx.BlendVariable(Avx.BlendVariable(k0, k1, n1), k2, n2), k3, n3);
                var pos0 = Avx2.Subtract(Vector256<int>.Zero, Avx2.Add(Avx2.Add(m1.AsInt32(), m2.AsInt32()), m3.AsInt32()));
                var pos1 = Avx2.Subtract(Vector256<int>.Zero, Avx2.Add(Avx2.Add(n1.AsInt32(), n2.AsInt32()), n3.AsInt32()));
                var same = Avx2.CompareEqual(pos0, pos1);
                v1 = Avx.AndNot(same.AsSingle(), v1);
                pos1 = Avx2.Xor(pos1, Avx2.And(same, Vector256.Create(1)));

                // Interleave (v0, v1) per block and undo the column order.
                var lo = Avx.UnpackLow(v0, v1);
                var hi = Avx.UnpackHigh(v0, v1);
                Avx.Store(pk + 2 * g, Avx2.Permute4x64(lo.AsDouble(), 0xD8).AsSingle());
                Avx.Store(pk + 2 * g + 8, Avx2.Permute4x64(hi.AsDouble(), 0xD8).AsSingle());

                var code = Avx2.ShiftLeftLogicalVariable(Avx2.Or(pos0, Avx2.ShiftLeftLogical(pos1, 2)).AsUInt32(), shifts);
                var h = Sse2.Or(code.GetLower(), code.GetUpper());
                h = Sse2.Or(h, Sse2.Shuffle(h, 0x4E));
                h = Sse2.Or(h, Sse2.Shuffle(h, 0xB1));
                Unsafe.WriteUnaligned(pp + g / 2, h.ToScalar());
            }
        }
        rng.V0 = s0; rng.V1 = s1; rng.V2 = s2; rng.V3 = s3;
        return blocks;
    }
}
