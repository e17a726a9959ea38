using Orchestrator.Bench.Codecs;
using Orchestrator.Spec;
using Orchestrator.Trainer.Compression.Torch;
using Orchestrator.Trainer.Compression;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Orchestrator.Tests.Compression;

/// <summary>Shared helpers: host arrays in and out, codecs by spec, and the reference MVUE probabilities.</summary>
internal static class TorchCodecTestKit
{
    public static float[] Floats(Tensor t) => t.cpu().data<float>().ToArray();

    public static byte[] Bytes(Tensor t) => t.cpu().data<byte>().ToArray();

    public static Tensor Of(float[] values) => tensor(values);

    public static ITensorCodec Codec(string codec, int n = 2, int m = 4, string pruner = "mvue") =>
        TorchCodecRegistry.Create(CompressionSpec.Default with { Codec = Named.Codec(codec), N = n, M = m, Pruner = Named.Pruner(pruner) });

    public static float[] RoundTrip(ITensorCodec codec, float[] x, ulong seed = 7)
    {
        using var scope = NewDisposeScope();
        var encoded = codec.Encode(Of(x), seed);
        Assert.Equal(codec.EncodedBytes(x.Length), encoded.numel());
        return Floats(codec.Decode(encoded, x.Length));
    }

    public static byte[] LittleEndian(params float[] values) => values.SelectMany(BitConverter.GetBytes).ToArray();

    /// <summary>Seeded values with a wide spread of magnitudes.</summary>
    public static float[] Random(int count, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)((rng.NextDouble() * 2 - 1) * Math.Exp(rng.NextDouble() * 3 - 1.5))).ToArray();
    }

    /// <summary>Water-filling written independently of the codec: sort by magnitude and saturate the
    /// largest values while their share of the remaining budget reaches 1.</summary>
    public static double[] Probabilities(float[] block, int n)
    {
        var a = block.Select(v => (double)Math.Abs(v)).ToArray();
        var p = new double[a.Length];
        if (a.Count(v => v > 0) <= n)
            return a.Select(v => v > 0 ? 1.0 : 0.0).ToArray();
        var order = Enumerable.Range(0, a.Length).OrderByDescending(i => a[i]).ToArray();
        for (int k = 0; k < n; k++)
        {
            double c = (n - k) / order.Skip(k).Sum(i => a[i]);
            if (a[order[k]] * c < 1)
            {
                foreach (var i in order.Take(k)) p[i] = 1;
                foreach (var i in order.Skip(k)) p[i] = c * a[i];
                return p;
            }
        }
        throw new InvalidOperationException("more than N - 1 saturated values in a block with more than N non-zeros");
    }
}

/// <summary>Pins the wire format: hand-built bytes decode to known values, and deterministic inputs encode to known bytes.</summary>
public sealed class TorchCodecFormatTests
{
    [Fact]
    public void None_is_the_little_endian_floats()
    {
        var bytes = TorchCodecTestKit.LittleEndian(1.5f, -0f, 3e-42f, -7.25f);
        var codec = TorchCodecTestKit.Codec("none");
        Assert.Equal(bytes, TorchCodecTestKit.Bytes(codec.Encode(TorchCodecTestKit.Of([1.5f, -0f, 3e-42f, -7.25f]), 1)));
        var decoded = TorchCodecTestKit.Floats(codec.Decode(tensor(bytes), 4));
        Assert.Equal([1.5f, -0f, 3e-42f, -7.25f], decoded);
        Assert.True(float.IsNegative(decoded[1]));
    }

    [Fact]
    public void Int8_decodes_scales_then_offset_bytes()
    {
        // 1030 values: chunk 0 (1024 values) has scale 0.5, chunk 1 (6 values) scale 2.
        var q = new byte[1030];
        Array.Fill(q, (byte)127);
        q[0] = 128; q[1] = 0; q[2] = 254; q[3] = 100; q[1023] = 130;
        q[1024] = 126; q[1029] = 254;
        var bytes = TorchCodecTestKit.LittleEndian(0.5f, 2f).Concat(q).ToArray();
        var decoded = TorchCodecTestKit.Floats(TorchCodecTestKit.Codec("int8").Decode(tensor(bytes), 1030));
        var expected = new float[1030];
        expected[0] = 0.5f; expected[1] = -63.5f; expected[2] = 63.5f; expected[3] = -13.5f; expected[1023] = 1.5f;
        expected[1024] = -2f; expected[1029] = 254f;
        Assert.Equal(expected, decoded);
    }

    [Fact]
    public void Int8_encodes_exact_multiples_of_the_scale_deterministically()
    {
        // max 63.5 gives scale 0.5 exactly; every value is a multiple of it, so no rounding noise applies.
        var x = new float[] { 63.5f, -0.5f, 0f, 1f, -63.5f };
        var encoded = TorchCodecTestKit.Bytes(TorchCodecTestKit.Codec("int8").Encode(TorchCodecTestKit.Of(x), 99));
        Assert.Equal(TorchCodecTestKit.LittleEndian(0.5f).Concat(new byte[] { 254, 126, 127, 129, 0 }), encoded);
    }

    [Fact]
    public void Int8_all_zero_chunk_has_scale_zero()
    {
        var encoded = TorchCodecTestKit.Bytes(TorchCodecTestKit.Codec("int8").Encode(zeros(3), 5));
        Assert.Equal(new byte[] { 0, 0, 0, 0, 127, 127, 127 }, encoded);
    }

    [Fact]
    public void Nm_2_4_decodes_values_then_two_bit_positions()
    {
        // 6 values = 2 blocks (the second padded). Kept: block 0 at positions 1, 3; block 1 at 0, 1.
        // Fields 1, 3, 0, 1 at 2 bits LSB-first: 1 | 3 << 2 | 0 << 4 | 1 << 6 = 77.
        var bytes = TorchCodecTestKit.LittleEndian(1.5f, -2f, 0f, 3f).Append((byte)77).ToArray();
        var decoded = TorchCodecTestKit.Floats(TorchCodecTestKit.Codec("nm", 2, 4).Decode(tensor(bytes), 6));
        Assert.Equal([0f, 1.5f, 0f, -2f, 0f, 3f], decoded);
    }

    [Fact]
    public void Nm_2_8_positions_straddle_bytes()
    {
        // 16 values = 2 blocks of 8; 3-bit fields 5, 6 (block 0) and 5, 7 (block 1):
        // 5 | 6 << 3 | 5 << 6 | 7 << 9 = 3957 = 0x0F75 -> bytes 0x75, 0x0F (the third field spans both).
        var bytes = TorchCodecTestKit.LittleEndian(1f, 2f, 3f, 4f).Concat(new byte[] { 0x75, 0x0F }).ToArray();
        var decoded = TorchCodecTestKit.Floats(TorchCodecTestKit.Codec("nm", 2, 8).Decode(tensor(bytes), 16));
        var expected = new float[16];
        expected[5] = 1f; expected[6] = 2f; expected[8 + 5] = 3f; expected[8 + 7] = 4f;
        Assert.Equal(expected, decoded);
    }

    [Fact]
    public void Nm_int8_decodes_scales_bytes_then_positions()
    {
        // One 2:4 block; kept values 2 and -1 with scale 0.25 (q = 8, -4 -> bytes 135, 123) at positions 0, 2
        // (0 | 2 << 2 = 8).
        var bytes = TorchCodecTestKit.LittleEndian(0.25f).Concat(new byte[] { 135, 123, 8 }).ToArray();
        var codec = TorchCodecTestKit.Codec("nm+int8", 2, 4);
        Assert.Equal(7, codec.EncodedBytes(4));
        Assert.Equal([2f, 0f, -1f, 0f], TorchCodecTestKit.Floats(codec.Decode(tensor(bytes), 4)));
    }

    [Fact]
    public void Nm_encodes_blocks_with_n_non_zeros_exactly()
    {
        // Both blocks have exactly two non-zeros, so MVUE and greedy both keep them as they are.
        var x = new float[] { 0f, 3f, 0f, -1f, 2.5f, 0f, 0f, 4f };
        var expected = TorchCodecTestKit.LittleEndian(3f, -1f, 2.5f, 4f).Append((byte)(1 | 3 << 2 | 0 << 4 | 3 << 6)).ToArray();
        foreach (var pruner in new[] { "mvue", "greedy" })
            Assert.Equal(expected, TorchCodecTestKit.Bytes(TorchCodecTestKit.Codec("nm", 2, 4, pruner).Encode(TorchCodecTestKit.Of(x), 3)));
    }

    [Fact]
    public void Decoding_a_misaligned_slice_of_a_larger_buffer_works()
    {
        var bytes = new byte[] { 9 }.Concat(TorchCodecTestKit.LittleEndian(1.5f, -2f)).ToArray();
        var slice = tensor(bytes).narrow(0, 1, 8);
        Assert.Equal([1.5f, -2f], TorchCodecTestKit.Floats(TorchCodecTestKit.Codec("none").Decode(slice, 2)));
    }
}

/// <summary>Wire sizes, tails and seeds across every codec.</summary>
public sealed class TorchCodecLayoutTests
{
    public static TheoryData<string, int, int, string> Codecs => new()
    {
        { "none", 2, 4, "mvue" },
        { "int8", 2, 4, "mvue" },
        { "nm", 1, 2, "mvue" },
        { "nm", 2, 4, "mvue" },
        { "nm", 4, 8, "mvue" },
        { "nm", 2, 4, "greedy" },
        { "nm", 3, 5, "mvue" },
        { "nm+int8", 1, 2, "mvue" },
        { "nm+int8", 2, 4, "mvue" },
        { "nm+int8", 4, 8, "greedy" },
    };

    private static readonly int[] Tails = [1, 3, 1023, 1025, 4099];

    private static int Formula(string codec, int elements, int n, int m) => codec switch
    {
        "none" => 4 * elements,
        "int8" => WireFormat.Int8Bytes(elements),
        "nm" => WireFormat.NmBytes(elements, n, m),
        _ => WireFormat.NmInt8Bytes(elements, n, m),
    };

    [Theory]
    [MemberData(nameof(Codecs))]
    public void Sizes_match_the_wire_format_and_tails_round_trip(string name, int n, int m, string pruner)
    {
        var codec = TorchCodecTestKit.Codec(name, n, m, pruner);
        foreach (var elements in Tails)
        {
            using var scope = NewDisposeScope();
            var x = TorchCodecTestKit.Random(elements, elements);
            var encoded = codec.Encode(TorchCodecTestKit.Of(x), 11);
            Assert.Equal(Formula(name, elements, n, m), codec.EncodedBytes(elements));
            Assert.Equal(codec.EncodedBytes(elements), encoded.numel());
            Assert.Equal(ScalarType.Byte, encoded.dtype);
            var decoded = TorchCodecTestKit.Floats(codec.Decode(encoded, elements));
            Assert.Equal(elements, decoded.Length);
            Assert.All(decoded, v => Assert.True(float.IsFinite(v)));
            if (name == "none")
                Assert.Equal(x, decoded);
            if (name.StartsWith("nm"))
                for (int b = 0; b * m < elements; b++)
                    Assert.True(decoded.Skip(b * m).Take(m).Count(v => v != 0) <= n);
        }
    }

    [Fact]
    public void Known_sizes()
    {
        Assert.Equal(4096 + 16, TorchCodecTestKit.Codec("int8").EncodedBytes(4096));
        // 2:4+int8 of 4096: 2048 kept bytes + 2 scales + 2048 two-bit positions.
        Assert.Equal(2048 + 8 + 512, TorchCodecTestKit.Codec("nm+int8", 2, 4).EncodedBytes(4096));
        // 1:2 of 4096: 2048 floats + 2048 one-bit positions.
        Assert.Equal(8192 + 256, TorchCodecTestKit.Codec("nm", 1, 2).EncodedBytes(4096));
        // 4:8 of 4096: 512 blocks x 4 three-bit positions = 6144 bits.
        Assert.Equal(4 * 2048 + 768, TorchCodecTestKit.Codec("nm", 4, 8).EncodedBytes(4096));
    }

    [Theory]
    [MemberData(nameof(Codecs))]
    public void Reproducible_by_seed(string name, int n, int m, string pruner)
    {
        using var scope = NewDisposeScope();
        var codec = TorchCodecTestKit.Codec(name, n, m, pruner);
        var x = TorchCodecTestKit.Of(TorchCodecTestKit.Random(3000, 5));
        var first = TorchCodecTestKit.Bytes(codec.Encode(x, 42));
        Assert.Equal(first, TorchCodecTestKit.Bytes(codec.Encode(x, 42)));
        bool stochastic = name == "int8" || name == "nm+int8" || pruner == "mvue" && name == "nm";
        if (stochastic)
            Assert.NotEqual(first, TorchCodecTestKit.Bytes(codec.Encode(x, 43)));
    }

    [Fact]
    public void Registry_rejects_bad_n_m()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => TorchCodecTestKit.Codec("nm", 5, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => TorchCodecTestKit.Codec("nm", 4, 4));
        Assert.Equal("2:4 mvue+int8", TorchCodecTestKit.Codec("nm+int8").Name);
    }

    [Fact]
    public void Wrong_encoding_size_is_rejected()
    {
        using var scope = NewDisposeScope();
        Assert.Throws<ArgumentException>(() => TorchCodecTestKit.Codec("int8").Decode(zeros(10, ScalarType.Byte), 10));
    }
}

/// <summary>The int8 quantizer: error bound, zeros, unbiasedness with the known variance.</summary>
public sealed class TorchCodecInt8Tests
{
    private static readonly ITensorCodec Int8 = TorchCodecTestKit.Codec("int8");

    [Fact]
    public void Error_is_below_one_scale_step_and_zeros_stay_zero()
    {
        var x = TorchCodecTestKit.Random(5000, 1);
        for (int i = 0; i < x.Length; i += 7) x[i] = 0;
        for (int i = 2048; i < 3072; i++) x[i] = 0; // an all-zero chunk
        var decoded = TorchCodecTestKit.RoundTrip(Int8, x);
        for (int chunk = 0; chunk * 1024 < x.Length; chunk++)
        {
            var values = x.Skip(chunk * 1024).Take(1024).ToArray();
            float scale = values.Max(Math.Abs) / 127f;
            for (int i = 0; i < values.Length; i++)
            {
                int at = chunk * 1024 + i;
                Assert.True(Math.Abs(decoded[at] - x[at]) <= scale * (1 + 1e-5), $"value {at}");
                if (x[at] == 0) Assert.Equal(0f, decoded[at]);
            }
        }
    }

    [Fact]
    public void Unbiased_with_variance_scale_squared_f_one_minus_f()
    {
        // The same chunk repeated: every copy has the same scale and independent rounding noise.
        const int copies = 1000;
        var chunk = TorchCodecTestKit.Random(1024, 2);
        using var scope = NewDisposeScope();
        var decoded = Int8.Decode(Int8.Encode(TorchCodecTestKit.Of(chunk).repeat(copies), 17), copies * 1024).view(copies, 1024).to(ScalarType.Float64);
        var mean = TorchCodecTestKit.Floats(decoded.mean([0]).to(ScalarType.Float32));
        var variance = TorchCodecTestKit.Floats(decoded.var(0).to(ScalarType.Float32));
        double scale = chunk.Max(Math.Abs) / 127f;
        for (int i = 0; i < 1024; i++)
        {
            double y = chunk[i] / scale, f = y - Math.Floor(y);
            double expectedVariance = scale * scale * f * (1 - f);
            double se = Math.Sqrt(expectedVariance / copies);
            Assert.True(Math.Abs(mean[i] - chunk[i]) <= 5 * se + 1e-5 * scale, $"mean of value {i}");
            Assert.True(Math.Abs(variance[i] - expectedVariance) <= 0.25 * scale * scale * 0.3 + 1e-6, $"variance of value {i}");
        }
    }
}

/// <summary>N:M pruning: MVUE unbiasedness and variance, identity cases, greedy top-N, nm+int8.</summary>
public sealed class TorchCodecNmTests
{
    public static TheoryData<int, int, float[]> Blocks => new()
    {
        { 1, 2, [0.3f, -1.2f] },
        { 2, 4, [1f, -2f, 3f, 0.5f] },
        { 2, 4, [10f, 1f, -2f, 0.5f] },      // one saturated value
        { 4, 8, [5f, -0.1f, 0.2f, 3f, -0.4f, 0.05f, 1f, -2f] }, // three saturated: the N - 1 round worst case
        { 2, 4, [0f, 1f, -3f, 0.25f] },      // a zero in a block with more than N non-zeros
    };

    [Theory]
    [MemberData(nameof(Blocks))]
    public void Mvue_is_unbiased_with_the_minimum_variance(int n, int m, float[] block)
    {
        const int copies = 20000;
        using var scope = NewDisposeScope();
        var codec = new TorchNmCodec(n, m, PrunerKind.Mvue);
        var x = TorchCodecTestKit.Of(block);
        var decoded = codec.Decode(codec.Encode(x.repeat(copies), 23), copies * m).view(copies, m).to(ScalarType.Float64);
        var mean = TorchCodecTestKit.Floats(decoded.mean([0]).to(ScalarType.Float32));
        var p = TorchCodecTestKit.Probabilities(block, n);
        for (int i = 0; i < m; i++)
        {
            double variance = block[i] * (double)block[i] * (p[i] > 0 ? 1 / p[i] - 1 : 0);
            Assert.True(Math.Abs(mean[i] - block[i]) <= 5 * Math.Sqrt(variance / copies) + 1e-5 * Math.Abs(block[i]), $"mean {i}: {mean[i]} vs {block[i]}");
        }
        // Total squared error per block against sum x^2 (1/p - 1), within 5 empirical standard errors.
        var squaredError = decoded.sub(x.to(ScalarType.Float64)).square().sum(dim: 1);
        double observed = squaredError.mean().item<double>();
        double se = squaredError.std().item<double>() / Math.Sqrt(copies);
        double expected = Enumerable.Range(0, m).Where(i => p[i] > 0).Sum(i => block[i] * (double)block[i] * (1 / p[i] - 1));
        Assert.True(Math.Abs(observed - expected) <= 5 * se + 1e-6, $"variance {observed} vs {expected}");
        // At most N non-zeros survive in every copy.
        Assert.All(TorchCodecTestKit.Floats(decoded.ne(0).sum(dim: 1).to(ScalarType.Float32)), k => Assert.True(k <= n));
    }

    [Fact]
    public void Water_filling_matches_the_reference()
    {
        var rng = new Random(4);
        foreach (var (n, m) in new[] { (1, 2), (2, 4), (4, 8), (3, 8), (2, 16) })
        {
            using var scope = NewDisposeScope();
            var blocks = Enumerable.Range(0, 200).Select(_ => Enumerable.Range(0, m).Select(_ => (float)Math.Pow(rng.NextDouble(), 4) * (rng.Next(4) == 0 ? 0 : 1)).ToArray()).ToArray();
            var a = tensor(blocks.SelectMany(b => b).ToArray()).view(blocks.Length, m);
            var p = TorchCodecTestKit.Floats(TorchNmCodec.InclusionProbabilities(a, n).flatten());
            for (int b = 0; b < blocks.Length; b++)
            {
                var reference = TorchCodecTestKit.Probabilities(blocks[b], n);
                if (blocks[b].Count(v => v > 0) <= n)
                    continue; // the codec's sparse blocks also mark filler zeros; covered by the identity test
                for (int i = 0; i < m; i++)
                    Assert.True(Math.Abs(p[b * m + i] - reference[i]) <= 1e-5, $"{n}:{m} block {b} value {i}: {p[b * m + i]} vs {reference[i]}");
            }
        }

    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(2, 4)]
    [InlineData(4, 8)]
    [InlineData(3, 5)]
    public void Blocks_with_at_most_n_non_zeros_and_all_zero_blocks_are_exact(int n, int m)
    {
        var rng = new Random(n * 31 + m);
        int blocks = 500;
        var x = new float[blocks * m - 1]; // a tail block too
        for (int b = 0; b < blocks; b++)
        {
            int keep = b % 5 == 0 ? 0 : rng.Next(n + 1);
            foreach (var i in Enumerable.Range(0, m).OrderBy(_ => rng.Next()).Take(keep))
                if (b * m + i < x.Length) x[b * m + i] = (float)(rng.NextDouble() * 4 - 2);
        }
        foreach (var pruner in new[] { PrunerKind.Mvue, PrunerKind.Greedy })
            for (ulong seed = 0; seed < 3; seed++)
                Assert.Equal(x, TorchCodecTestKit.RoundTrip(new TorchNmCodec(n, m, pruner), x, seed));
        Assert.Equal(new float[10], TorchCodecTestKit.RoundTrip(new TorchNmCodec(n, m, PrunerKind.Mvue), new float[10]));
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(2, 4)]
    [InlineData(3, 8)]
    public void Greedy_keeps_the_top_n_magnitudes_unscaled(int n, int m)
    {
        var x = TorchCodecTestKit.Random(4099, 9);
        var decoded = TorchCodecTestKit.RoundTrip(new TorchNmCodec(n, m, PrunerKind.Greedy), x);
        for (int start = 0; start < x.Length; start += m)
        {
            int length = Math.Min(m, x.Length - start);
            var top = Enumerable.Range(start, length).OrderByDescending(i => Math.Abs(x[i])).Take(n).ToHashSet();
            for (int i = start; i < start + length; i++)
                Assert.Equal(top.Contains(i) ? x[i] : 0f, decoded[i]);
        }
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(2, 4)]
    public void Nm_int8_is_unbiased(int n, int m)
    {
        const int copies = 20000;
        var block = m == 2 ? new[] { 0.7f, -0.2f } : new[] { 1f, -2f, 3f, 0.5f };
        using var scope = NewDisposeScope();
        var codec = new TorchNmInt8Codec(n, m, PrunerKind.Mvue);
        var decoded = codec.Decode(codec.Encode(TorchCodecTestKit.Of(block).repeat(copies), 31), copies * m).view(copies, m).to(ScalarType.Float64);
        var mean = TorchCodecTestKit.Floats(decoded.mean([0]).to(ScalarType.Float32));
        var sd = TorchCodecTestKit.Floats(decoded.std(0).to(ScalarType.Float32));
        for (int i = 0; i < m; i++)
            Assert.True(Math.Abs(mean[i] - block[i]) <= 5 * sd[i] / Math.Sqrt(copies) + 1e-5, $"mean {i}: {mean[i]} vs {block[i]}");
    }

    [Fact]
    public void Random_gradients_decode_unbiased_on_average_over_seeds()
    {
        // Across seeds (not copies): the mean of 200 encodings of one 256-value bucket approaches it, within
        // 5 standard errors of the known variance (an upper bound for nm+int8). The empirical variance would
        // not do: values with a rounding fraction or inclusion probability near 0 or 1 often see no
        // variation at all in 200 draws.
        const int seeds = 200;
        var x = TorchCodecTestKit.Random(256, 3);
        double step = x.Max(Math.Abs) / 127.0;
        var int8Variance = x.Select(v => { double y = v / step, f = y - Math.Floor(y); return step * step * f * (1 - f); }).ToArray();
        var cases = new (ITensorCodec Codec, double[] Variance)[]
        {
            (new TorchInt8Codec(), int8Variance),
            (new TorchNmCodec(2, 4, PrunerKind.Mvue), PruningVariance(x, 2, 4, 0)),
            // Kept 1:2 values are at most |x1| + |x2|, so their int8 step is at most the largest such sum / 127.
            (new TorchNmInt8Codec(1, 2, PrunerKind.Mvue), PruningVariance(x, 1, 2, Enumerable.Range(0, 128).Max(b => Math.Abs(x[2 * b]) + Math.Abs(x[2 * b + 1])) / 127.0)),
        };
        foreach (var (codec, variance) in cases)
        {
            using var scope = NewDisposeScope();
            var input = TorchCodecTestKit.Of(x);
            var sum = zeros(x.Length, ScalarType.Float64);
            for (ulong seed = 0; seed < seeds; seed++)
                sum.add_(codec.Decode(codec.Encode(input, seed), x.Length).to(ScalarType.Float64));
            var mean = TorchCodecTestKit.Floats(sum.div(seeds).to(ScalarType.Float32));
            for (int i = 0; i < x.Length; i++)
                Assert.True(Math.Abs(mean[i] - x[i]) <= 5 * Math.Sqrt(variance[i] / seeds) + 1e-5 * Math.Abs(x[i]), $"{codec.Name} value {i}: {mean[i]} vs {x[i]}");
        }
    }

    /// <summary>x^2 (1/p - 1) per value, plus the bound step^2/4 on the int8 rounding variance of a kept value.</summary>
    private static double[] PruningVariance(float[] x, int n, int m, double step)
    {
        var variance = new double[x.Length];
        for (int start = 0; start < x.Length; start += m)
        {
            var p = TorchCodecTestKit.Probabilities(x[start..(start + m)], n);
            for (int i = 0; i < m; i++)
                variance[start + i] = (p[i] > 0 ? x[start + i] * (double)x[start + i] * (1 / p[i] - 1) : 0) + step * step / 4;
        }
        return variance;
    }
}

/// <summary>The throughput probe runs (tiny here); set TORCHCODEC_THROUGHPUT_ELEMENTS to print real rates.</summary>
public sealed class TorchCodecThroughputTests(ITestOutputHelper output)
{
    [Fact]
    public void Probe_reports_positive_rates()
    {
        int elements = int.TryParse(Environment.GetEnvironmentVariable("TORCHCODEC_THROUGHPUT_ELEMENTS"), out var e) ? e : 4096;
        int repeats = elements > 100_000 ? 3 : 1;
        foreach (var name in new[] { "none", "int8", "nm", "nm+int8" })
            foreach (var (n, m) in name.StartsWith("nm") ? new[] { (2, 4), (1, 2) } : new[] { (2, 4) })
            {
                var codec = TorchCodecTestKit.Codec(name, n, m);
                var (encode, decode) = TorchCodecThroughput.Measure(codec, elements, repeats);
                output.WriteLine($"{codec.Name}: encode {encode:F2} GB/s, decode {decode:F2} GB/s ({elements} floats, {torch.get_num_threads()} threads)");
                Assert.True(encode > 0 && decode > 0);
            }
    }
}
