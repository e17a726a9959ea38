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
/// The closed form is exact enough (relative 2^-23) while S is finite and K is 0 or normal; a block outside
/// that (a subnormal K, where S/2 rounds and 1/K overflows; S past float.MaxValue; a NaN or an infinity)
/// is redone by the exact <see cref="MvuePruner.Block"/> with the same u: one mask test per step, a scalar
/// block only for those rare blocks.
/// </summary>
internal static class Mvue24Kernel
{
    /// <summary>Prunes whole blocks; positions are 4 bits per block (2 x 2 bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop: skip tier-0 JIT
    public static void Prune(ReadOnlySpan<float> input, Span<float> kept, Span<byte> positions, ref CodecRandom rng, bool vectorized)
    {
        int blocks = input.Length / 4;
        int done = 0;
        if (vectorized && Avx512F.IsSupported) done = PruneAvx512(input, kept, positions, blocks & ~15, ref rng);
        if (vectorized && Avx2.IsSupported)
            done += PruneAvx2(input[(4 * done)..], kept[(2 * done)..], positions[(done / 2)..], (blocks - done) & ~7, ref rng);
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
        if (!ClosedFormHolds(s, k))
        {
            Exact(x, u, out v0, out v1, out p0, out p1);
            return;
        }
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

    /// <summary>Whether the fp32 closed form holds: S finite (so every partial sum is) and K zero or normal
    /// (1/K finite, S/2 exact). K = 0 means at most one non-zero, kept as it is.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool ClosedFormHolds(float s, float k) => s <= float.MaxValue && (k == 0f || k >= Int8Quantizer.MinNormal);

    /// <summary>The exact block (<see cref="MvuePruner.Block"/>) in this kernel's output form.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Exact(ReadOnlySpan<float> x, float u, out float v0, out float v1, out int p0, out int p1)
    {
        Span<float> kept = stackalloc float[2];
        Span<int> pos = stackalloc int[2];
        MvuePruner.Block(x, 2, kept, pos, u);
        (v0, v1, p0, p1) = (kept[0], kept[1], pos[0], pos[1]);
    }

    /// <summary>Redoes the blocks of one step whose column lanes are set in <paramref name="lanes"/>, with the
    /// exact block and the lane's own u. <paramref name="blockOfLane"/> maps a lane to its block in the step.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void Patch(float* px, float* pk, byte* pp, int g, uint lanes, ReadOnlySpan<float> u, Func<int, int> blockOfLane)
    {
        for (int lane = 0; lanes != 0; lane++, lanes >>= 1)
        {
            if ((lanes & 1) == 0) continue;
            int b = g + blockOfLane(lane);
            Exact(new ReadOnlySpan<float>(px + 4 * b, 4), u[lane], out float v0, out float v1, out int p0, out int p1);
            pk[2 * b] = v0;
            pk[2 * b + 1] = v1;
            int shift = 4 * (b & 1);
            pp[b >> 1] = (byte)((pp[b >> 1] & ~(0xF << shift)) | ((p0 | (p1 << 2)) << shift));
        }
    }

    private static readonly Func<int, int> Avx2BlockOfLane = lane => lane < 4 ? 2 * lane : 2 * (lane - 4) + 1;
    private static readonly Func<int, int> Avx512BlockOfLane = lane => (lane >> 2) + 4 * (lane & 3);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void Patch8(float* px, float* pk, byte* pp, int g, uint lanes, Vector256<float> u)
    {
        Span<float> draws = stackalloc float[8];
        u.CopyTo(draws);
        Patch(px, pk, pp, g, lanes, draws, Avx2BlockOfLane);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void Patch16(float* px, float* pk, byte* pp, int g, uint lanes, Vector512<float> u)
    {
        Span<float> draws = stackalloc float[16];
        u.CopyTo(draws);
        Patch(px, pk, pp, g, lanes, draws, Avx512BlockOfLane);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float P(float a, float k, float invK) => a > 0f ? (a >= k ? 1f : a * invK) : 0f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Kept(float x, float k) => x != 0f ? MathF.CopySign(MathF.Max(MathF.Abs(x), k), x) : 0f;

    /// <summary>
    /// The AVX2 kernel's operations on sixteen blocks per step in 512-bit vectors, for CPUs with AVX-512:
    /// the compares stay in mask registers, and each instruction covers twice the blocks (Zen 4 splits a
    /// 512-bit op into two halves but it takes one scheduler slot, so twice the work fits the window
    /// that waits behind the division). Lane for lane the same arithmetic and the same random draws
    /// (the two eight-lane steps of blocks 0-7 and 8-15, permuted to the transpose's order), so the
    /// output is bit-identical to the AVX2 kernel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop: skip tier-0 JIT
    private static unsafe int PruneAvx512(ReadOnlySpan<float> input, Span<float> kept, Span<byte> positions, int blocks, ref CodecRandom rng)
    {
        if (blocks == 0) return 0;
        var s0 = rng.V0; var s1 = rng.V1; var s2 = rng.V2; var s3 = rng.V3;
        var absMask = Vector512.Create(0x7FFFFFFF).AsSingle();
        var one = Vector512.Create(1f);
        var half = Vector512.Create(0.5f);
        var zero = Vector512<float>.Zero;
        var oneI = Vector512.Create(1);
        var two = Vector512.Create(2);
        var three = Vector512.Create(3);
        var zeroI = Vector512<int>.Zero;
        var uScale = Vector512.Create(1f / (1 << 23));
        var minNormal = Vector512.Create(Int8Quantizer.MinNormal);
        var maxFinite = Vector512.Create(float.MaxValue);
        // After the in-lane transpose, column lane i = 4L + j holds block L + 4j. The AVX2 kernel gives
        // block b of an eight-block group the draw in lane (b >> 1) + 4 (b & 1) of that group's step.
        var drawOrder = Vector512.Create(0u, 2, 8, 10, 4, 6, 12, 14, 1, 3, 9, 11, 5, 7, 13, 15);
        // Kept output: element 2B + s is v_s of block B (s = 1 selects the second table, indices 16+).
        var keptLow = Vector512.Create(0, 16, 4, 20, 8, 24, 12, 28, 1, 17, 5, 21, 9, 25, 13, 29);
        var keptHigh = Vector512.Create(2, 18, 6, 22, 10, 26, 14, 30, 3, 19, 7, 23, 11, 27, 15, 31);
        // Position codes back in block order, two blocks (one position byte) per 64-bit lane.
        var blockOrder = Vector512.Create(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
        fixed (float* px = input)
        fixed (float* pk = kept)
        fixed (byte* pp = positions)
        {
            for (int g = 0; g < blocks; g += 16)
            {
                float* p = px + 4 * g;
                var r0 = Vector512.Load(p);
                var r1 = Vector512.Load(p + 16);
                var r2 = Vector512.Load(p + 32);
                var r3 = Vector512.Load(p + 48);
                var t0 = Avx512F.UnpackLow(r0, r1);
                var t1 = Avx512F.UnpackHigh(r0, r1);
                var t2 = Avx512F.UnpackLow(r2, r3);
                var t3 = Avx512F.UnpackHigh(r2, r3);
                var x0 = Avx512F.Shuffle(t0, t2, 0x44);
                var x1 = Avx512F.Shuffle(t0, t2, 0xEE);
                var x2 = Avx512F.Shuffle(t1, t3, 0x44);
                var x3 = Avx512F.Shuffle(t1, t3, 0xEE);
                var a0 = x0 & absMask;
                var a1 = x1 & absMask;
                var a2 = x2 & absMask;
                var a3 = x3 & absMask;

                var s01 = a0 + a1;
                var s23 = a2 + a3;
                var sum = s01 + s23;
                // Avx512F.Min, not Vector512.Min: the same vminps (NaN handling) as the AVX2 kernel.
                var minT = Avx512F.Min(Avx512F.Min(a1 + s23, a0 + s23), Avx512F.Min(s01 + a3, s01 + a2));
                var k = Avx512F.Min(sum * half, minT);
                var invK = one / k;

                var c1 = Vector512.ConditionalSelect(Vector512.GreaterThan(a0, zero),
                    Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(a0, k), one, a0 * invK), zero);
                var c2 = c1 + Vector512.ConditionalSelect(Vector512.GreaterThan(a1, zero),
                    Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(a1, k), one, a1 * invK), zero);
                var c3 = c2 + Vector512.ConditionalSelect(Vector512.GreaterThan(a2, zero),
                    Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(a2, k), one, a2 * invK), zero);

                var drawsA = CodecRandom.Step(ref s0, ref s1, ref s2, ref s3);
                var drawsB = CodecRandom.Step(ref s0, ref s1, ref s2, ref s3);
                var bits = Avx512F.PermuteVar16x32(Vector512.Create(drawsA, drawsB), drawOrder);
                var u = Vector512.ConvertToSingle((bits >>> 9).AsInt32()) * uScale;
                var u1 = u + one;
                var m1 = Vector512.LessThanOrEqual(c1, u);
                var m2 = Vector512.LessThanOrEqual(c2, u);
                var m3 = Vector512.LessThanOrEqual(c3, u);
                var n1 = Vector512.LessThanOrEqual(c1, u1);
                var n2 = Vector512.LessThanOrEqual(c2, u1);
                var n3 = Vector512.LessThanOrEqual(c3, u1);

                var x0s = Vector512.ConditionalSelect(m3, x3, Vector512.ConditionalSelect(m2, x2, Vector512.ConditionalSelect(m1, x1, x0)));
                var x1s = Vector512.ConditionalSelect(n3, x3, Vector512.ConditionalSelect(n2, x2, Vector512.ConditionalSelect(n1, x1, x0)));
                var pos0 = Vector512.ConditionalSelect(m3.AsInt32(), three, Vector512.ConditionalSelect(m2.AsInt32(), two, Vector512.ConditionalSelect(m1.AsInt32(), oneI, zeroI)));
                var pos1 = Vector512.ConditionalSelect(n3.AsInt32(), three, Vector512.ConditionalSelect(n2.AsInt32(), two, Vector512.ConditionalSelect(n1.AsInt32(), oneI, zeroI)));
                var a0s = x0s & absMask;
                var a1s = x1s & absMask;
                var v0 = Vector512.ConditionalSelect(Vector512.GreaterThan(a0s, zero), Avx512F.Max(a0s, k) | Vector512.AndNot(x0s, absMask), zero);
                var v1 = Vector512.ConditionalSelect(Vector512.GreaterThan(a1s, zero), Avx512F.Max(a1s, k) | Vector512.AndNot(x1s, absMask), zero);
                var same = Vector512.Equals(pos0, pos1);
                v1 = Vector512.ConditionalSelect(same.AsSingle(), zero, v1);
                pos1 = Vector512.ConditionalSelect(same, pos1 ^ oneI, pos1);

                Avx512F.PermuteVar16x32x2(v0, keptLow, v1).Store(pk + 2 * g);
                Avx512F.PermuteVar16x32x2(v0, keptHigh, v1).Store(pk + 2 * g + 16);

                // Blocks 2i and 2i+1 share 64-bit lane i; fold the odd block's code into bits 4-7, keep the low byte.
                var pair = Avx512F.PermuteVar16x32(pos0 | (pos1 << 2), blockOrder).AsUInt64();
                var bytes = Avx512F.ConvertToVector128Byte(pair | (pair >>> 28));
                Unsafe.WriteUnaligned(pp + g / 2, bytes.AsUInt64().ToScalar());

                // Lanes outside the closed form's range (ClosedFormHolds; a NaN S fails the first compare).
                var bad = ~Vector512.LessThanOrEqual(sum, maxFinite)
                    | (Vector512.GreaterThan(k, zero) & Vector512.LessThan(k, minNormal));
                uint lanes = (uint)bad.ExtractMostSignificantBits();
                if (lanes != 0) Patch16(px, pk, pp, g, lanes, u);
            }
        }
        rng.V0 = s0; rng.V1 = s1; rng.V2 = s2; rng.V3 = s3;
        return blocks;
    }

    /// <summary>sign(x) max(|x|, K), zero where x = 0 (and where x is NaN, as <see cref="Kept"/>'s vector form always did).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> KeptValue(Vector256<float> x, Vector256<float> k, Vector256<float> absMask, Vector256<float> zero)
    {
        var a = x & absMask;
        // Avx.Max, not Vector256.Max: vmaxps returns K for a NaN a, which the mask then clears.
        return Vector256.ConditionalSelect(Vector256.GreaterThan(a, zero), Avx.Max(a, k) | Vector256.AndNot(x, absMask), zero);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop: skip tier-0 JIT
    private static unsafe int PruneAvx2(ReadOnlySpan<float> input, Span<float> kept, Span<byte> positions, int blocks, ref CodecRandom rng)
    {
        if (blocks == 0) return 0;
        var s0 = rng.V0; var s1 = rng.V1; var s2 = rng.V2; var s3 = rng.V3;
        var absMask = Vector256.Create(0x7FFFFFFF).AsSingle();
        var one = Vector256.Create(1f);
        var half = Vector256.Create(0.5f);
        var zero = Vector256<float>.Zero;
        var oneI = Vector256.Create(1);
        var two = Vector256.Create(2);
        var three = Vector256.Create(3);
        // Column lanes hold blocks 0,2,4,6,1,3,5,7 (the transpose's order): odd blocks take the high nibble.
        var nibble = Vector256.Create(0u, 0, 0, 0, 4, 4, 4, 4);
        var firstBytes = Vector128.Create((byte)0, 4, 8, 12, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80);
        var minNormal = Vector256.Create(Int8Quantizer.MinNormal);
        var maxFinite = Vector256.Create(float.MaxValue);
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

                // p = 1 where a >= K (no a * (1/K) rounding below 1), 0 where a = 0 (clears 0 * inf = NaN when K = 0).
                // Written with Vector256 compares and ConditionalSelect rather than Avx.BlendVariable: where
                // AVX-512VL is present the JIT keeps the masks in k registers, and the VEX-only vblendvps
                // (ymm0-15 only) made it spill a dozen vectors per step. Same bits either way.
                var c1 = Vector256.ConditionalSelect(Vector256.GreaterThan(a0, zero),
                    Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(a0, k), one, a0 * invK), zero);
                var c2 = c1 + Vector256.ConditionalSelect(Vector256.GreaterThan(a1, zero),
                    Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(a1, k), one, a1 * invK), zero);
                var c3 = c2 + Vector256.ConditionalSelect(Vector256.GreaterThan(a2, zero),
                    Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(a2, k), one, a2 * invK), zero);

                var u = CodecRandom.Uniform23(CodecRandom.Step(ref s0, ref s1, ref s2, ref s3));
                var u1 = u + one;
                var m1 = Vector256.LessThanOrEqual(c1, u);
                var m2 = Vector256.LessThanOrEqual(c2, u);
                var m3 = Vector256.LessThanOrEqual(c3, u);
                var n1 = Vector256.LessThanOrEqual(c1, u1);
                var n2 = Vector256.LessThanOrEqual(c2, u1);
                var n3 = Vector256.LessThanOrEqual(c3, u1);

                // C1 <= C2 <= C3 (sums of non-negative terms; a NaN stays in the later sums), so the masks
                // are prefixes and chained selects pick element pos: first the input itself, then its kept
                // value sign(x) max(a, K), zero where x = 0 (the same function of x for every position, so
                // selecting first does two transforms instead of four).
                var x0s = Vector256.ConditionalSelect(m3, x3, Vector256.ConditionalSelect(m2, x2, Vector256.ConditionalSelect(m1, x1, x0)));
                var x1s = Vector256.ConditionalSelect(n3, x3, Vector256.ConditionalSelect(n2, x2, Vector256.ConditionalSelect(n1, x1, x0)));
                var pos0 = Vector256.ConditionalSelect(m3.AsInt32(), three, Vector256.ConditionalSelect(m2.AsInt32(), two, m1.AsInt32() & oneI));
                var pos1 = Vector256.ConditionalSelect(n3.AsInt32(), three, Vector256.ConditionalSelect(n2.AsInt32(), two, n1.AsInt32() & oneI));
                var v0 = KeptValue(x0s, k, absMask, zero);
                var v1 = KeptValue(x1s, k, absMask, zero);
                var same = Vector256.Equals(pos0, pos1);
                v1 = Vector256.AndNot(v1, same.AsSingle());
                pos1 ^= same & oneI;

                // Interleave (v0, v1) per block and undo the column order.
                var lo = Avx.UnpackLow(v0, v1);
                var hi = Avx.UnpackHigh(v0, v1);
                Avx.Store(pk + 2 * g, Avx2.Permute4x64(lo.AsDouble(), 0xD8).AsSingle());
                Avx.Store(pk + 2 * g + 8, Avx2.Permute4x64(hi.AsDouble(), 0xD8).AsSingle());

                // Lanes 0-3 (blocks 0,2,4,6) are the low nibbles of bytes 0-3, lanes 4-7 (blocks 1,3,5,7) the high ones.
                var code = Avx2.ShiftLeftLogicalVariable((pos0 | (pos1 << 2)).AsUInt32(), nibble);
                var h = Sse2.Or(code.GetLower(), code.GetUpper());
                Unsafe.WriteUnaligned(pp + g / 2, Ssse3.Shuffle(h.AsByte(), firstBytes).AsUInt32().ToScalar());

                // Lanes outside the closed form's range (ClosedFormHolds; a NaN S fails the first compare).
                var bad = ~Vector256.LessThanOrEqual(sum, maxFinite)
                    | (Vector256.GreaterThan(k, zero) & Vector256.LessThan(k, minNormal));
                uint lanes = bad.ExtractMostSignificantBits();
                if (lanes != 0) Patch8(px, pk, pp, g, lanes, u);
            }
        }
        rng.V0 = s0; rng.V1 = s1; rng.V2 = s2; rng.V3 = s3;
        return blocks;
    }
}
