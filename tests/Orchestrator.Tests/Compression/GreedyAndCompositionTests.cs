using Orchestrator.Spec;
using Orchestrator.Trainer.Compression;

namespace Orchestrator.Tests.Compression;

public sealed class GreedyPrunerTests
{
    [Fact]
    public void KeepsTheTopNMagnitudesExactlyAndDeterministically()
    {
        var codec = new NmCodec(new GreedyPruner(3, 8));
        var x = CodecTestData.Gradient(8 * 200, 6);
        var enc = new byte[codec.EncodedBytes(x.Length)];
        var y = new float[x.Length];
        codec.Encode(x, enc, 1);
        codec.Decode(enc, y);
        for (int b = 0; b < 200; b++)
        {
            var top = Enumerable.Range(b * 8, 8).OrderByDescending(i => Math.Abs(x[i])).ThenBy(i => i).Take(3).ToHashSet();
            for (int i = b * 8; i < b * 8 + 8; i++) Assert.Equal(top.Contains(i) ? x[i] : 0f, y[i]);
        }
        var again = new byte[enc.Length];
        codec.Encode(x, again, 99);
        Assert.Equal(enc, again);
    }

    [Fact]
    public void IsBiasedTheDroppedValuesAreMissing()
    {
        // [3, 2, 1, 0] under 2:4: greedy always sends [3, 2, 0, 0], so E[decode] != x; MVUE averages back to x.
        float[] x = [3f, 2f, 1f, 0f];
        var greedy = new EstimatorStats(new NmCodec(new GreedyPruner(2, 4)), x, draws: 50);
        Assert.Equal([3.0, 2.0, 0.0, 0.0], greedy.Mean);
        var mvue = new EstimatorStats(new NmCodec(new MvuePruner(2, 4)), x, draws: 2000);
        var p = MvuePrunerTests.InclusionProbabilities(x, 2);
        for (int i = 0; i < 3; i++)
        {
            double sd = Math.Sqrt(x[i] * x[i] * (1 / p[i] - 1) / mvue.Draws);
            if (p[i] == 1) Assert.Equal(x[i], mvue.Mean[i]); // 3 = S/2: saturated, always sent as is
            else Assert.True(Math.Abs(mvue.Mean[i] - x[i]) < 5 * sd, $"mvue [{i}] mean {mvue.Mean[i]}");
        }
        // The greedy shortfall at [2] is 1, about 30 MVUE standard errors.
        Assert.True(Math.Abs(greedy.Mean[2] - x[2]) > 20 * Math.Sqrt(x[2] * x[2] * (1 / p[2] - 1) / mvue.Draws));
    }
}

public sealed class NmInt8CodecTests
{
    [Theory]
    [InlineData(2, 4, true), InlineData(2, 4, false), InlineData(1, 2, true), InlineData(1, 2, false), InlineData(3, 8, true)]
    public void PruneThenQuantizeIsUnbiased(int n, int m, bool vectorized)
    {
        var codec = new NmInt8Codec(new MvuePruner(n, m, vectorized), vectorized);
        // 3000 values: several int8 chunks of kept values, and for 3:8 segments that straddle chunks.
        var x = CodecTestData.Gradient(m == 8 ? 8 * 700 : 3000, 12);
        var stats = new EstimatorStats(codec, x, draws: 300);
        stats.AssertUnbiasedByGroups(x);
    }

    [Fact]
    public void TheGroupTestCatchesGreedyBias()
    {
        // The same statistic must reject the biased baseline, or passing it would mean little.
        var x = CodecTestData.Gradient(3000, 12);
        var stats = new EstimatorStats(new NmInt8Codec(new GreedyPruner(2, 4)), x, draws: 100);
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => stats.AssertUnbiasedByGroups(x));
    }

    [Fact]
    public void IsTheCompositionOfThePrunerAndTheInt8Stage()
    {
        // The int8 part of nm+int8 decodes to the nm codec's kept values within one scale each.
        int n = 4099;
        var x = CodecTestData.Gradient(n, 13);
        var nm = new NmCodec(new MvuePruner(2, 4));
        var nmq = new NmInt8Codec(new MvuePruner(2, 4));
        var a = new float[n];
        var b = new float[n];
        var enc = new byte[nmq.EncodedBytes(n)];
        nmq.Encode(x, enc, 5);
        nmq.Decode(enc, b);
        var encNm = new byte[nm.EncodedBytes(n)];
        nm.Encode(x, encNm, 5);
        nm.Decode(encNm, a);
        // The first segment (512 blocks = one chunk of 1024 kept values) is pruned before the quantizer
        // draws anything, so with the same seed both codecs keep the same positions there, and the
        // int8 values are the nm values within one chunk scale.
        float scale = BitConverter.ToSingle(enc, 0);
        for (int i = 0; i < 2048; i++)
        {
            if (b[i] != 0) Assert.NotEqual(0f, a[i]); // int8 may round a small kept value to 0, never the reverse
            Assert.True(Math.Abs(a[i] - b[i]) <= scale * (1 + 1e-5), $"[{i}] {a[i]} vs {b[i]}");
        }
    }
}

public sealed class CodecRegistryTests
{
    private static CompressionSpec Spec(string codec, int n = 2, int m = 4, string pruner = "mvue") =>
        CompressionSpec.Default with { Codec = Named.Codec(codec), N = n, M = m, Pruner = Named.Pruner(pruner) };

    [Fact]
    public void CreatesEachCodec()
    {
        Assert.IsType<NoneCodec>(CodecRegistry.Create(Spec("none")));
        Assert.IsType<Int8Codec>(CodecRegistry.Create(Spec("int8")));
        var nm = Assert.IsType<NmCodec>(CodecRegistry.Create(Spec("nm", 1, 2)));
        Assert.Equal("1:2 mvue", nm.Name);
        var nmq = Assert.IsType<NmInt8Codec>(CodecRegistry.Create(Spec("nm+int8", 3, 8, "greedy")));
        Assert.Equal("3:8 greedy+int8", nmq.Name);
        Assert.IsType<GreedyPruner>(nmq.Pruner);
    }

    [Fact]
    public void BadNmIsRefusedByThePruners()
    {
        // Unknown names cannot reach the registry (they are enums); an out-of-range N:M is refused by NmPattern.Check.
        Assert.Throws<ArgumentOutOfRangeException>(() => CodecRegistry.Create(Spec("nm+int8", 4, 4)));
        Assert.Throws<ArgumentOutOfRangeException>(() => CodecRegistry.Create(Spec("nm", 2, 32)));
    }
}
