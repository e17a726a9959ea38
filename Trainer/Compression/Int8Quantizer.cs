using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Orchestrator.Trainer.Compression;

/// <summary>
/// The int8 stage of the wire format (<see cref="WireFormat"/>): symmetric per-chunk scale and
/// stochastic rounding, q = floor(y) + (u &lt; y - floor(y)) with y = x / scale, stored as q + 127.
/// Shared by <see cref="Int8Codec"/> and <see cref="NmInt8Codec"/> (which quantizes the kept values).
/// The encoder works one <see cref="WireFormat.QuantChunk"/> at a time (a max pass, then a quantize
/// pass while the 4 KB chunk is still in L1), so the input is read from memory once.
/// </summary>
internal static class Int8Quantizer
{
    private const int Chunk = WireFormat.QuantChunk;

    /// <summary>The smallest normal float, 2^-126: scales at or above it take the fast reciprocal path.</summary>
    internal const float MinNormal = 1.17549435e-38f;

    /// <summary>
    /// The chunk scale for a finite max |x| = <paramref name="max"/> &gt; 0, the one rule both implementations
    /// follow (<see cref="WireFormat"/>): max / 127 rounded to nearest while that is a normal float, except one ulp
    /// less for max = float.MaxValue (127 x the rounded scale would decode to infinity); below 2^-126 the
    /// smallest float &gt;= max / 127, so max / scale &lt;= 127 holds exactly on the subnormal grid and a chunk
    /// of tiny values never gets scale 0. Computed in double where fp32 cannot (max / 127 and scale x 127 are
    /// exact there).
    /// </summary>
    public static float ChunkScale(float max)
    {
        float scale = max / 127f;
        if (scale >= MinNormal)
            return float.IsInfinity(127f * scale) ? MathF.BitDecrement(scale) : scale;
        scale = (float)(max / 127.0);
        return (double)scale * 127.0 < max ? MathF.BitIncrement(scale) : scale;
    }

    /// <summary>The reciprocal the fast path multiplies by, for a normal <paramref name="scale"/> of a chunk with
    /// max |x| = <paramref name="max"/>. Nudged up until max * inv &gt;= 127 so that, after clamping y to
    /// [-127, 127], the max element lands exactly on +-127 (y = 126.99999 would otherwise round down with
    /// small probability).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float InverseFor(float max)
    {
        float inv = 127f / max;
        while (max * inv < 127f) inv = MathF.BitIncrement(inv);
        return inv;
    }

    /// <summary>Quantizes a whole span into the int8 layout (scales, then q) in <paramref name="output"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop: skip tier-0 JIT
    public static void Encode(ReadOnlySpan<float> values, Span<byte> output, ref CodecRandom rng, bool vectorized)
    {
        int n = values.Length;
        int chunks = (n + Chunk - 1) / Chunk;
        var scales = MemoryMarshal.Cast<byte, float>(output[..(4 * chunks)]);
        var q = output.Slice(4 * chunks, n);
        for (int c = 0; c < chunks; c++)
        {
            int start = c * Chunk, len = Math.Min(Chunk, n - start);
            scales[c] = QuantizeChunk(values.Slice(start, len), q.Slice(start, len), ref rng, vectorized);
        }
    }

    /// <summary>
    /// Quantizes one chunk (at most <see cref="WireFormat.QuantChunk"/> values) and returns its scale: 0 for an
    /// all-zero chunk, NaN for a chunk holding a NaN or an infinity (every q is then 0, so the whole chunk
    /// decodes to NaN: the codecs' non-finite rule, README "Compression"), else <see cref="ChunkScale"/>.
    /// A normal scale takes the vectorized reciprocal path; a subnormal one (max |x| &lt; ~1.5e-36, rare)
    /// divides by the scale in a scalar loop, because 1 / scale would overflow.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop: skip tier-0 JIT
    public static float QuantizeChunk(ReadOnlySpan<float> x, Span<byte> q, ref CodecRandom rng, bool vectorized)
    {
        // The largest |x| as bits: as integers NaN > infinity > every finite magnitude, so one max finds both.
        int maxBits = vectorized && Avx2.IsSupported ? MaxAbsBitsAvx2(x) : MaxAbsBitsScalar(x);
        if (maxBits == 0 || maxBits >= PositiveInfinityBits)
        {
            q.Fill(127);
            return maxBits == 0 ? 0f : float.NaN;
        }
        float max = BitConverter.Int32BitsToSingle(maxBits);
        float scale = ChunkScale(max);
        if (scale < MinNormal)
        {
            for (int i = 0; i < x.Length; i++) q[i] = QuantizeDivided(x[i], scale, rng.NextFloat());
            return scale;
        }
        float inv = InverseFor(max);
        int done = vectorized && Avx2.IsSupported ? QuantizeAvx2(x, q, inv, ref rng) : 0;
        for (int i = done; i < x.Length; i++) q[i] = QuantizeOne(x[i], inv, rng.NextFloat());
        return scale;
    }

    private const int PositiveInfinityBits = 0x7F800000;

    /// <summary>The subnormal-scale path: y = x / scale (one fp32 division, exact enough: |y| &lt;= 127).</summary>
    private static byte QuantizeDivided(float x, float scale, float u)
    {
        float y = Math.Clamp(x / scale, -127f, 127f);
        float f = MathF.Floor(y);
        int q = (int)f + (u < y - f ? 1 : 0);
        return (byte)(q + 127);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte QuantizeOne(float x, float inv, float u)
    {
        float y = Math.Clamp(x * inv, -127f, 127f);
        float f = MathF.Floor(y);
        // floor + (u < frac), not trunc(y + 127 + u): the latter can turn an exact 0 into +-1 by rounding.
        int q = (int)f + (u < y - f ? 1 : 0);
        return (byte)(q + 127);
    }

    private static int MaxAbsBitsScalar(ReadOnlySpan<float> x)
    {
        int m = 0;
        foreach (float v in x) m = Math.Max(m, BitConverter.SingleToInt32Bits(v) & 0x7FFFFFFF);
        return m;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop: skip tier-0 JIT
    private static unsafe int MaxAbsBitsAvx2(ReadOnlySpan<float> x)
    {
        // Integer max of the magnitudes' bits (vpmaxsd): the same order as the floats for finite values, and
        // unlike vmaxps it never drops a NaN.
        var abs = Vector256.Create(0x7FFFFFFF);
        Vector256<int> m0 = default, m1 = default, m2 = default, m3 = default;
        int i = 0, n = x.Length;
        fixed (float* pf = x)
        {
            int* p = (int*)pf;
            for (; i + 32 <= n; i += 32)
            {
                m0 = Avx2.Max(m0, Avx2.And(Avx.LoadVector256(p + i), abs));
                m1 = Avx2.Max(m1, Avx2.And(Avx.LoadVector256(p + i + 8), abs));
                m2 = Avx2.Max(m2, Avx2.And(Avx.LoadVector256(p + i + 16), abs));
                m3 = Avx2.Max(m3, Avx2.And(Avx.LoadVector256(p + i + 24), abs));
            }
            for (; i + 8 <= n; i += 8) m0 = Avx2.Max(m0, Avx2.And(Avx.LoadVector256(p + i), abs));
        }
        var m = Avx2.Max(Avx2.Max(m0, m1), Avx2.Max(m2, m3));
        var h = Sse41.Max(m.GetLower(), m.GetUpper());
        h = Sse41.Max(h, Sse2.Shuffle(h, 0x4E));
        h = Sse41.Max(h, Sse2.Shuffle(h, 0xB1));
        int r = h.ToScalar();
        for (; i < n; i++) r = Math.Max(r, BitConverter.SingleToInt32Bits(x[i]) & 0x7FFFFFFF);
        return r;
    }

    /// <summary>Quantizes 32 values per step; returns how many it did (a multiple of 32).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop: skip tier-0 JIT
    private static unsafe int QuantizeAvx2(ReadOnlySpan<float> x, Span<byte> q, float inv, ref CodecRandom rng)
    {
        int n = x.Length & ~31;
        if (n == 0) return 0;
        var s0 = rng.V0; var s1 = rng.V1; var s2 = rng.V2; var s3 = rng.V3;
        var vinv = Vector256.Create(inv);
        var hi = Vector256.Create(127f);
        var lo = Vector256.Create(-127f);
        var offset = Vector256.Create(127);
        var order = Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7);
        fixed (float* px = x)
        fixed (byte* pq = q)
        {
            for (int i = 0; i < n; i += 32)
            {
                var q0 = One(Avx.LoadVector256(px + i), vinv, lo, hi, offset, CodecRandom.Step(ref s0, ref s1, ref s2, ref s3));
                var q1 = One(Avx.LoadVector256(px + i + 8), vinv, lo, hi, offset, CodecRandom.Step(ref s0, ref s1, ref s2, ref s3));
                var q2 = One(Avx.LoadVector256(px + i + 16), vinv, lo, hi, offset, CodecRandom.Step(ref s0, ref s1, ref s2, ref s3));
                var q3 = One(Avx.LoadVector256(px + i + 24), vinv, lo, hi, offset, CodecRandom.Step(ref s0, ref s1, ref s2, ref s3));
                // int32 -> int16 -> uint8 packs interleave 128-bit lanes; one dword permute restores order.
                var bytes = Avx2.PackUnsignedSaturate(Avx2.PackSignedSaturate(q0, q1), Avx2.PackSignedSaturate(q2, q3));
                Avx.Store(pq + i, Avx2.PermuteVar8x32(bytes.AsInt32(), order).AsByte());
            }
        }
        rng.V0 = s0; rng.V1 = s1; rng.V2 = s2; rng.V3 = s3;
        return n;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> One(Vector256<float> x, Vector256<float> inv, Vector256<float> lo, Vector256<float> hi,
        Vector256<int> offset, Vector256<uint> bits)
    {
        var y = Avx.Min(Avx.Max(Avx.Multiply(x, inv), lo), hi);
        var f = Avx.Floor(y);
        var up = Avx.CompareLessThan(CodecRandom.Uniform24(bits), Avx.Subtract(y, f));
        // The compare mask is -1 where rounding up, so subtracting it adds one.
        return Avx2.Subtract(Avx2.Add(Avx.ConvertToVector256Int32WithTruncation(f), offset), up.AsInt32());
    }

    /// <summary>Decodes <paramref name="count"/> values starting at value index <paramref name="start"/>
    /// of an int8 layout holding <paramref name="total"/> values, writing or adding into <paramref name="output"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop: skip tier-0 JIT
    public static void Decode(ReadOnlySpan<byte> encoded, int total, int start, Span<float> output, bool add, bool vectorized)
    {
        int chunks = (total + Chunk - 1) / Chunk;
        var scales = MemoryMarshal.Cast<byte, float>(encoded[..(4 * chunks)]);
        var q = encoded.Slice(4 * chunks, total);
        int count = output.Length, done = 0;
        while (done < count)
        {
            int idx = start + done;
            int c = idx / Chunk;
            int len = Math.Min(count - done, (c + 1) * Chunk - idx);
            DequantizeRun(scales[c], q.Slice(idx, len), output.Slice(done, len), add, vectorized);
            done += len;
        }
    }

    /// <summary>(q - 127) * scale for a run sharing one scale. Subtracting first keeps the product
    /// exactly the value both implementations agree on.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop: skip tier-0 JIT
    public static void DequantizeRun(float scale, ReadOnlySpan<byte> q, Span<float> output, bool add, bool vectorized)
    {
        int i = 0, n = q.Length;
        if (vectorized && Avx2.IsSupported) i = DequantizeAvx2(scale, q, output, add);
        if (add) for (; i < n; i++) output[i] += (q[i] - 127) * scale;
        else for (; i < n; i++) output[i] = (q[i] - 127) * scale;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop: skip tier-0 JIT
    private static unsafe int DequantizeAvx2(float scale, ReadOnlySpan<byte> q, Span<float> output, bool add)
    {
        int n = q.Length & ~31;
        var vs = Vector256.Create(scale);
        var off = Vector256.Create(127);
        fixed (byte* pq = q)
        fixed (float* po = output)
        {
            if (add)
            {
                for (int i = 0; i < n; i += 8)
                {
                    var v = Avx.Multiply(Avx.ConvertToVector256Single(Avx2.Subtract(Avx2.ConvertToVector256Int32(pq + i), off)), vs);
                    Avx.Store(po + i, Avx.Add(Avx.LoadVector256(po + i), v));
                }
            }
            else
            {
                for (int i = 0; i < n; i += 8)
                    Avx.Store(po + i, Avx.Multiply(Avx.ConvertToVector256Single(Avx2.Subtract(Avx2.ConvertToVector256Int32(pq + i), off)), vs));
            }
        }
        return n;
    }
}
