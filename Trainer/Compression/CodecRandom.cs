using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Orchestrator.Trainer.Compression;

/// <summary>
/// The codecs' deterministic random source: xoshiro128+ in eight independent 32-bit lanes (one
/// <see cref="Vector256{T}"/> step yields eight draws) plus one scalar xoshiro128+ stream for scalar
/// code and tails. All states are seeded from one 64-bit seed through splitmix64, so an encoding is a
/// pure function of (input, seed) and different seeds give independent streams.
/// Hot loops copy <see cref="V0"/>..<see cref="V3"/> into locals and write them back afterwards:
/// the JIT keeps locals in registers but spills struct fields on every step.
/// </summary>
public struct CodecRandom
{
    internal Vector256<uint> V0, V1, V2, V3;
    internal uint S0, S1, S2, S3;

    /// <summary>Seeds every lane and the scalar stream from <paramref name="seed"/>.</summary>
    public CodecRandom(ulong seed)
    {
        ulong sm = seed;
        Span<uint> lanes = stackalloc uint[32];
        for (int i = 0; i < 32; i += 2)
        {
            ulong z = SplitMix64(ref sm);
            lanes[i] = (uint)z;
            lanes[i + 1] = (uint)(z >> 32);
        }
        V0 = Vector256.Create<uint>(lanes[..8]);
        V1 = Vector256.Create<uint>(lanes[8..16]);
        V2 = Vector256.Create<uint>(lanes[16..24]);
        V3 = Vector256.Create<uint>(lanes[24..32]);
        ulong a = SplitMix64(ref sm), b = SplitMix64(ref sm);
        S0 = (uint)a; S1 = (uint)(a >> 32); S2 = (uint)b; S3 = (uint)(b >> 32);
        // xoshiro's all-zero state is a fixed point; splitmix64 makes it practically impossible, but be safe.
        if ((S0 | S1 | S2 | S3) == 0) S0 = 1;
    }

    private static ulong SplitMix64(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Next 32 random bits from the scalar stream.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint NextUInt()
    {
        uint result = S0 + S3;
        uint t = S1 << 9;
        S2 ^= S0; S3 ^= S1; S1 ^= S2; S0 ^= S3; S2 ^= t;
        S3 = (S3 << 11) | (S3 >> 21);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 24 random bits (the top bits: xoshiro128+'s low bits are weaker).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float NextFloat() => (NextUInt() >> 8) * (1f / (1 << 24));

    /// <summary>Uniform in [0, 1) with 23 random bits, so that u + 1 stays exact in fp32 (systematic sampling compares against it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float NextFloat23() => (NextUInt() >> 9) * (1f / (1 << 23));

    /// <summary>One step of the eight-lane generator on state held in locals.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<uint> Step(ref Vector256<uint> s0, ref Vector256<uint> s1, ref Vector256<uint> s2, ref Vector256<uint> s3)
    {
        var result = s0 + s3;
        var t = s1 << 9;
        if (Avx512F.VL.IsSupported)
        {
            // The same update in fewer ops (the codec kernels are bound by vector-op throughput): three-input
            // XORs (ternary-logic table 0x96) of the old state and one rotate instead of shift, shift, or.
            var o0 = s0; var o1 = s1; var o2 = s2; var o3 = s3;
            s1 = Avx512F.VL.TernaryLogic(o1, o2, o0, 0x96);
            s0 = Avx512F.VL.TernaryLogic(o0, o3, o1, 0x96);
            s2 = Avx512F.VL.TernaryLogic(o2, o0, t, 0x96);
            s3 = Avx512F.VL.RotateLeft(o3 ^ o1, 11);
            return result;
        }
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t;
        s3 = (s3 << 11) | (s3 >>> 21);
        return result;
    }

    /// <summary>Eight uniforms in [0, 1) with 24 bits each, straight from the random bits (int convert is exact below 2^24).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Uniform24(Vector256<uint> bits) =>
        Vector256.ConvertToSingle((bits >>> 8).AsInt32()) * Vector256.Create(1f / (1 << 24));

    /// <summary>Eight uniforms in [0, 1) with 23 bits each: u + 1 is then exact, which systematic sampling needs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Uniform23(Vector256<uint> bits) =>
        Vector256.ConvertToSingle((bits >>> 9).AsInt32()) * Vector256.Create(1f / (1 << 23));
}
