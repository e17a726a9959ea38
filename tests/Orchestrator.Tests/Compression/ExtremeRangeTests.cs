using System.Runtime.InteropServices;
using Orchestrator.Spec;
using Orchestrator.Trainer.Compression;
using Orchestrator.Trainer.Compression.Torch;
using TorchSharp;

namespace Orchestrator.Tests.Compression;

/// <summary>
/// The codecs over the whole float range (README "Compression"): unbiased from subnormals (1e-44) to values
/// near float.MaxValue and in blocks that mix magnitudes, one block's or chunk's extremes never reaching
/// another, and one rule for NaN and infinities, in both implementations (fused kernels, vectorized and
/// scalar, and torch ops). For the int8 codecs every magnitude class sits in its own int8 chunk of kept
/// values (a zero-padded region), so each chunk's scale is fixed by its own class.
/// </summary>
public sealed class ExtremeRangeTests
{
    private const int Region = 2048;

    /// <summary>Values per magnitude class region: one int8 chunk of (kept) values, or 64 without int8.</summary>
    private static int RegionOf(CodecKind kind, int n, int m) => kind switch
    {
        CodecKind.Int8 => 1024,
        CodecKind.NmInt8 => 1024 * m / n,
        _ => 64,
    };

    /// <summary>Magnitude classes: subnormal, the normal/subnormal border, normal, near the top.</summary>
    private static readonly double[] Magnitudes = [1e-44, 1e-40, 3e-39, 1e-37, 1e-20, 1, 1e20, 1e38, 3e38];

    public static TheoryData<string> Keys() =>
    [
        "int8", "int8/scalar", "int8/torch",
        "nm 2:4", "nm 2:4/scalar", "nm 2:4/torch",
        "nm 1:2", "nm 1:2/scalar", "nm 1:2/torch",
        "nm 3:8", "nm 3:8/torch",
        "nm+int8 2:4", "nm+int8 2:4/scalar", "nm+int8 2:4/torch",
        "nm+int8 1:2", "nm+int8 1:2/torch",
    ];

    private static (IGradientCodec Codec, int N, int M) Codec(string key)
    {
        var parts = key.Split('/');
        bool torch = parts.Length > 1 && parts[1] == "torch", vectorized = !(parts.Length > 1 && parts[1] == "scalar");
        var words = parts[0].Split(' ');
        int n = 1, m = 1;
        if (words.Length > 1)
        {
            var nm = words[1].Split(':');
            (n, m) = (int.Parse(nm[0]), int.Parse(nm[1]));
        }
        var kind = Named.Codec(words[0]);
        if (torch)
            return (new TorchGradientCodec(TorchCodecRegistry.Create(CompressionSpec.Default with { Codec = kind, N = n, M = m })), n, m);
        IGradientCodec codec = kind switch
        {
            CodecKind.Int8 => new Int8Codec(vectorized),
            CodecKind.Nm => new NmCodec(new MvuePruner(n, m, vectorized), vectorized),
            CodecKind.NmInt8 => new NmInt8Codec(new MvuePruner(n, m, vectorized), vectorized),
            _ => throw new ArgumentException(key),
        };
        return (codec, n, m);
    }

    /// <summary>
    /// One region per magnitude class: 64 values of that magnitude (random signs, spread 0.1..1, a few exact
    /// zeros), scaled so that no block's magnitudes sum past N x float.MaxValue (then every block is encodable);
    /// then a region of mixed blocks (1e38 next to 1e-44, 1 and 1e-40 in one block).
    /// </summary>
    private static float[] Sweep(int n, int m, int region, int seed)
    {
        var rng = new Random(seed);
        var x = new float[(Magnitudes.Length + 1) * region];
        for (int c = 0; c < Magnitudes.Length; c++)
        {
            // Top classes: at most N / M of the maximum per value keeps every block's sum below N x MaxValue.
            double top = Math.Min(Magnitudes[c], 0.99 * float.MaxValue * n / m);
            for (int i = 0; i < 64; i++)
            {
                double v = top * (0.1 + 0.9 * rng.NextDouble()) * (rng.Next(2) == 0 ? -1 : 1);
                x[c * region + i] = rng.Next(10) == 0 ? 0f : (float)v;
            }
        }
        int mixed = Magnitudes.Length * region;
        float[] pattern = [1e38f * n / m, -1e-44f, 1f, 1e-40f, -3e-39f, 1e-45f, 2.5f, -1e20f];
        for (int i = 0; i < 64; i++) x[mixed + i] = pattern[(i + i / 8) % pattern.Length] * (float)(0.5 + rng.NextDouble());
        return x;
    }

    [Theory, MemberData(nameof(Keys))]
    public void Unbiased_from_subnormals_to_near_max_and_in_mixed_blocks(string key)
    {
        var (codec, n, m) = Codec(key);
        var x = Sweep(n, m, RegionOf(codec.Kind, n, m), 3);
        bool torch = key.EndsWith("/torch", StringComparison.Ordinal);
        int draws = codec.Kind == CodecKind.Nm ? (torch ? 400 : 1500) : torch ? 60 : 600;
        var stats = new EstimatorStats(codec, x, draws);
        if (codec.Kind == CodecKind.NmInt8)
        {
            stats.AssertUnbiasedByGroups(x);
            return;
        }
        var variance = new double[x.Length];
        var fourth = new double[x.Length];
        if (codec.Kind == CodecKind.Int8)
        {
            // The wire's own scales (checked against the rule in Int8_scale_rule_holds_over_the_whole_range).
            var enc = new byte[codec.EncodedBytes(x.Length)];
            codec.Encode(x, enc, 1);
            var scales = MemoryMarshal.Cast<byte, float>(enc.AsSpan(0, 4 * (x.Length / 1024)));
            for (int i = 0; i < x.Length; i++)
            {
                double s = scales[i / 1024];
                if (s == 0) continue;
                double y = x[i] / s, fl = Math.Floor(y);
                // y - floor(y) rounds to 1 for y = -1e-80 (a subnormal in a chunk scaled for 1e38): keep it below 1.
                double f = Math.Min(y - fl, Math.BitDecrement(1.0));
                (variance[i], fourth[i]) = EstimatorStats.TwoPoint(f, (fl + 1) * s, fl * s);
            }
            stats.AssertUnbiased(x, variance, block: 1);
            return;
        }
        // nm: kept with p = a / K_r as sign(x) K_r (K_r = the level rounded up to a float), or kept as it is.
        for (int b = 0; b < x.Length / m; b++)
        {
            var block = x.AsSpan(b * m, m);
            var p = MvuePrunerTests.InclusionProbabilities(block, n);
            double level = 0;
            for (int i = 0; i < m; i++) if (p[i] > 0 && p[i] < 1) level = Math.Abs(block[i]) / p[i];
            double rounded = level == 0 ? 0 : RoundUp(level);
            for (int i = 0; i < m; i++)
            {
                if (p[i] >= 1 || p[i] == 0) continue;
                double keep = Math.Abs(block[i]) / rounded;
                (variance[b * m + i], fourth[b * m + i]) = EstimatorStats.TwoPoint(keep, Math.CopySign(rounded, block[i]), 0);
            }
        }
        stats.AssertUnbiased(x, variance, block: m);
    }

    /// <summary>The smallest float >= <paramref name="v"/>, written independently of the codec.</summary>
    private static double RoundUp(double v)
    {
        float f = (float)v;
        return f < v ? MathF.BitIncrement(f) : f;
    }

    [Theory, MemberData(nameof(Keys))]
    public void Blocks_keep_at_most_N_finite_values_and_sizes_match_the_format(string key)
    {
        var (codec, n, m) = Codec(key);
        var x = Sweep(n, m, RegionOf(codec.Kind, n, m), 4);
        var enc = new byte[codec.EncodedBytes(x.Length)];
        Assert.Equal(SizeOf(codec.Kind, x.Length, n, m), enc.Length);
        var y = new float[x.Length];
        for (ulong seed = 0; seed < 4; seed++)
        {
            codec.Encode(x, enc, seed);
            codec.Decode(enc, y);
            Assert.All(y, v => Assert.True(float.IsFinite(v), $"{key}: a finite input decoded to {v}"));
            if (codec.Kind == CodecKind.Int8) continue;
            for (int b = 0; b < x.Length / m; b++)
                Assert.True(y.AsSpan(b * m, m).ToArray().Count(v => v != 0) <= n, $"{key}: block {b} keeps more than {n}");
        }
        if (key.EndsWith("/torch", StringComparison.Ordinal))
        {
            // The tensor codec itself returns exactly the format's size.
            var inner = TorchCodecRegistry.Create(CompressionSpec.Default with { Codec = codec.Kind, N = n, M = m });
            using var encoded = inner.Encode(torch.tensor(x), 1);
            Assert.Equal(enc.Length, encoded.numel());
        }
    }

    private static int SizeOf(CodecKind kind, int elements, int n, int m) => kind switch
    {
        CodecKind.Int8 => elements + 4 * ((elements + 1023) / 1024),
        CodecKind.Nm => 4 * n * ((elements + m - 1) / m) + ((elements + m - 1) / m * n * (32 - int.LeadingZeroCount(m - 1)) + 7) / 8,
        _ => n * ((elements + m - 1) / m) + 4 * ((n * ((elements + m - 1) / m) + 1023) / 1024)
             + ((elements + m - 1) / m * n * (32 - int.LeadingZeroCount(m - 1)) + 7) / 8,
    };

    [Theory, MemberData(nameof(Keys))]
    public void Non_finite_values_decode_to_NaN_in_their_own_block_or_chunk_only(string key)
    {
        var (codec, n, m) = Codec(key);
        var x = CodecTestData.Gradient(4 * Region, 9);
        // Region 0: a NaN; region 1: +infinity; region 2: -infinity; region 3 clean.
        int[] at = [5, Region + 17, 2 * Region + 1030];
        x[at[0]] = float.NaN;
        x[at[1]] = float.PositiveInfinity;
        x[at[2]] = float.NegativeInfinity;
        var enc = new byte[codec.EncodedBytes(x.Length)];
        var y = new float[x.Length];
        for (ulong seed = 0; seed < 3; seed++)
        {
            codec.Encode(x, enc, seed);
            codec.Decode(enc, y);
            foreach (int i in at)
            {
                // int8: the whole chunk is NaN; nm: the block's N slots; nm+int8: every kept value of the chunk.
                int unit = codec.Kind == CodecKind.Int8 ? 1024 : m;
                int start = i / unit * unit;
                var around = y.AsSpan(start, unit).ToArray();
                if (codec.Kind == CodecKind.Int8) Assert.All(around, v => Assert.True(float.IsNaN(v)));
                else Assert.Equal(n, around.Count(float.IsNaN));
            }
            // Nothing outside the affected chunk (int8), block (nm) or kept-value chunk (nm+int8, 1024 kept values).
            int reach = codec.Kind switch { CodecKind.Int8 => 1024, CodecKind.Nm => m, _ => 1024 * m / n };
            for (int i = 0; i < x.Length; i++)
                if (!at.Any(j => j / reach == i / reach))
                    Assert.True(float.IsFinite(y[i]), $"{key}: element {i} = {y[i]} outside the non-finite values' units");
        }
    }

    [Theory, MemberData(nameof(Keys))]
    public void A_block_no_N_floats_can_carry_is_reported_like_a_non_finite_one(string key)
    {
        var (codec, n, m) = Codec(key);
        var x = new float[2 * Region];
        for (int i = 0; i < x.Length; i++) x[i] = (i % 3 - 1) * 0.5f;
        // Every magnitude 3e38: the block sums past N x float.MaxValue, so an unbiased N:M encoding would need
        // values above float.MaxValue. int8 carries it exactly (127 x scale).
        for (int i = 0; i < m; i++) x[Region + i] = i % 2 == 0 ? 3e38f : -3e38f;
        var enc = new byte[codec.EncodedBytes(x.Length)];
        codec.Encode(x, enc, 1);
        var y = new float[x.Length];
        codec.Decode(enc, y);
        if (codec.Kind == CodecKind.Int8)
        {
            for (int i = 0; i < m; i++) Assert.True(Math.Abs(y[Region + i] - x[Region + i]) <= 1e-6 * 3e38, $"{y[Region + i]}");
            return;
        }
        Assert.Equal(n, y.AsSpan(Region, m).ToArray().Count(float.IsNaN));
        Assert.All(y.AsSpan(0, Region).ToArray(), v => Assert.True(float.IsFinite(v)));
    }

    [Theory, InlineData("int8"), InlineData("int8/scalar"), InlineData("int8/torch")]
    public void Int8_scale_rule_holds_over_the_whole_range(string key)
    {
        var (codec, _, _) = Codec(key);
        // Chunk maxima from the smallest subnormal to float.MaxValue itself (whose rounded max / 127 overflows
        // when multiplied back by 127).
        float[] maxima = [float.Epsilon, 1e-44f, 1e-40f, 1.4e-36f, 1.5e-36f, 1e-37f, 1f, 3e38f, float.MaxValue];
        var x = new float[1024 * maxima.Length];
        for (int c = 0; c < maxima.Length; c++)
        {
            for (int i = 0; i < 1024; i++) x[c * 1024 + i] = maxima[c] * (float)((i % 7) / 7.0) * (i % 2 == 0 ? 1 : -1);
            x[c * 1024 + 3] = maxima[c];
        }
        var enc = new byte[codec.EncodedBytes(x.Length)];
        codec.Encode(x, enc, 1);
        var scales = MemoryMarshal.Cast<byte, float>(enc.AsSpan(0, 4 * maxima.Length)).ToArray();
        var y = new float[x.Length];
        codec.Decode(enc, y);
        for (int c = 0; c < maxima.Length; c++)
        {
            double max = maxima[c], s = scales[c];
            Assert.True(s > 0 && float.IsFinite(127f * scales[c]), $"max {max}: scale {s}");
            // Never clamped beyond rounding: 127 x scale reaches max (up to one ulp of max, float.MaxValue only).
            Assert.True(127 * s >= max * (1 - 2e-7), $"max {max}: 127 x scale = {127 * s}");
            // Not wasteful: the normal range rounds max / 127 to nearest, the subnormal grid rounds up.
            Assert.True(s <= RoundUp(max / 127), $"max {max}: scale {s} above the rounded-up quotient");
            // The max element: one of the two levels around it (exactly +-127 where the scale is normal).
            double tolerance = s >= 1.17549435e-38 ? 2e-7 * max : s;
            Assert.True(Math.Abs(y[c * 1024 + 3] - max) <= tolerance, $"max {max} decoded to {y[c * 1024 + 3]}");
        }
    }
}
