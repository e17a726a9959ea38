using Orchestrator.Trainer.Compression;

namespace Orchestrator.Tests.Compression;

public sealed class MvuePrunerTests
{
    public static TheoryData<int, int, bool> NmCases()
    {
        var data = new TheoryData<int, int, bool>();
        foreach (var (n, m) in new[] { (1, 2), (2, 4), (3, 8), (4, 8) })
        {
            data.Add(n, m, true);
            data.Add(n, m, false);
        }
        return data;
    }

    private static NmCodec Codec(int n, int m, bool vectorized) => new(new MvuePruner(n, m, vectorized), vectorized);

    private static float[] RoundTrip(IGradientCodec codec, float[] x, ulong seed)
    {
        var enc = new byte[codec.EncodedBytes(x.Length)];
        codec.Encode(x, enc, seed);
        var y = new float[x.Length];
        codec.Decode(enc, y);
        return y;
    }

    /// <summary>Reference water-filling in double, written independently of the codec: the smallest k
    /// such that, with the top-k magnitudes at p = 1, the rest scaled to sum N - k stay below 1.</summary>
    internal static double[] InclusionProbabilities(ReadOnlySpan<float> block, int n)
    {
        var a = block.ToArray().Select(v => (double)Math.Abs(v)).ToArray();
        var p = new double[a.Length];
        if (a.Count(v => v > 0) <= n)
        {
            for (int i = 0; i < a.Length; i++) p[i] = a[i] > 0 ? 1 : 0;
            return p;
        }
        var sorted = a.OrderByDescending(v => v).ToArray();
        for (int k = 0; k < n; k++)
        {
            double c = (n - k) / sorted.Skip(k).Sum();
            if (c * sorted[k] <= 1)
            {
                for (int i = 0; i < a.Length; i++) p[i] = Math.Min(1, c * a[i]);
                return p;
            }
        }
        throw new InvalidOperationException("unreachable: water-filling always stops before N");
    }

    [Theory, MemberData(nameof(NmCases))]
    public void BlocksWithAtMostNNonZerosAreKeptExactly(int n, int m, bool vectorized)
    {
        var rng = new Random(n * 31 + m);
        var x = new float[m * 256 + 1]; // plus a partial block
        for (int b = 0; b * m < x.Length; b++)
        {
            int nnz = rng.Next(n + 1); // 0 (all-zero block) .. N
            for (int k = 0; k < nnz; k++)
            {
                int i = b * m + rng.Next(m);
                if (i < x.Length) x[i] = (float)(rng.NextDouble() * 4 - 2) * MathF.Pow(10, rng.Next(-3, 3));
            }
        }
        var codec = Codec(n, m, vectorized);
        for (ulong seed = 0; seed < 5; seed++) Assert.Equal(x, RoundTrip(codec, x, seed));
    }

    [Theory, MemberData(nameof(NmCases))]
    public void EveryBlockHasAtMostNNonZerosAndKeptValuesAreXOverP(int n, int m, bool vectorized)
    {
        var x = CodecTestData.Gradient(m * 300 + m / 2, 2);
        var codec = Codec(n, m, vectorized);
        for (ulong seed = 0; seed < 3; seed++)
        {
            var y = RoundTrip(codec, x, seed);
            for (int b = 0; b * m < x.Length; b++)
            {
                var xb = x.AsSpan(b * m, Math.Min(m, x.Length - b * m));
                var yb = y.AsSpan(b * m, xb.Length);
                Assert.True(yb.ToArray().Count(v => v != 0) <= n);
                var padded = new float[m];
                xb.CopyTo(padded);
                var p = InclusionProbabilities(padded, n);
                for (int i = 0; i < xb.Length; i++)
                {
                    if (yb[i] == 0) continue;
                    double expected = xb[i] / p[i];
                    Assert.True(Math.Abs(yb[i] - expected) <= 1e-5 * Math.Abs(expected), $"block {b} [{i}]: {yb[i]} vs x/p = {expected}");
                }
            }
        }
    }

    [Theory, InlineData(true), InlineData(false)]
    public void OneTwoClosedForm(bool vectorized)
    {
        var x = CodecTestData.Gradient(1024, 8);
        var codec = Codec(1, 2, vectorized);
        var y = RoundTrip(codec, x, 3);
        for (int b = 0; b < 512; b++)
        {
            float x0 = x[2 * b], x1 = x[2 * b + 1], s = Math.Abs(x0) + Math.Abs(x1);
            // Either (sign(x0) S, 0) or (0, sign(x1) S).
            bool first = y[2 * b] == MathF.CopySign(s, x0) && y[2 * b + 1] == 0;
            bool second = y[2 * b] == 0 && y[2 * b + 1] == MathF.CopySign(s, x1);
            Assert.True(first || second || s == 0, $"block {b}: ({x0}, {x1}) -> ({y[2 * b]}, {y[2 * b + 1]})");
        }
    }

    [Theory, InlineData(true), InlineData(false)]
    public void TwoFourClosedForms(bool vectorized)
    {
        var codec = Codec(2, 4, vectorized);
        var rng = new Random(4);
        var x = new float[4 * 512];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        for (int b = 0; b < 512; b += 3) x[4 * b + rng.Next(4)] *= 20; // a dominant value now and then
        for (ulong seed = 0; seed < 4; seed++)
        {
            var y = RoundTrip(codec, x, seed);
            for (int b = 0; b < 512; b++)
            {
                var a = x.AsSpan(4 * b, 4).ToArray().Select(Math.Abs).ToArray();
                float s = a.Sum(), amax = a.Max();
                var kept = Enumerable.Range(0, 4).Where(i => y[4 * b + i] != 0).ToArray();
                Assert.Equal(2, kept.Length);
                if (amax <= s - amax)
                {
                    // Every kept value is +-S/2.
                    foreach (int i in kept) Assert.Equal(MathF.CopySign(s / 2, x[4 * b + i]), y[4 * b + i], s * 1e-6f);
                }
                else
                {
                    // The dominant value is kept exactly; the other is +-(S - a_max).
                    int top = Array.IndexOf(a, amax);
                    Assert.Contains(top, kept);
                    Assert.Equal(x[4 * b + top], y[4 * b + top]);
                    int other = kept.Single(i => i != top);
                    Assert.Equal(MathF.CopySign(s - amax, x[4 * b + other]), y[4 * b + other], s * 1e-6f);
                }
            }
        }
    }

    [Theory, MemberData(nameof(NmCases))]
    public void UnbiasedWithTheMinimumVariance(int n, int m, bool vectorized)
    {
        var x = CodecTestData.Gradient(m * 96, 21);
        var stats = new EstimatorStats(Codec(n, m, vectorized), x, draws: 400);
        var variance = new double[x.Length];
        var fourth = new double[x.Length];
        for (int b = 0; b < x.Length / m; b++)
        {
            var p = InclusionProbabilities(x.AsSpan(b * m, m), n);
            for (int i = 0; i < m; i++)
            {
                double xi = x[b * m + i];
                // Per element x/p with probability p, else 0: variance x^2 (1/p - 1), whose block sum is the MVUE formula.
                (variance[b * m + i], fourth[b * m + i]) = p[i] > 0 ? EstimatorStats.TwoPoint(p[i], xi / p[i], 0) : (0, 0);
            }
        }
        stats.AssertUnbiased(x, variance, block: m);
        stats.AssertVariance(variance, fourth, block: m);
    }

    [Fact]
    public void GoldenBytes()
    {
        // Blocks with <= N non-zeros are deterministic, so their bytes pin the format.
        var two4 = new NmCodec(new MvuePruner(2, 4));
        var enc = new byte[two4.EncodedBytes(4)];
        two4.Encode([0f, 3f, 0f, -1f], enc, 1);
        Assert.Equal([.. BitConverter.GetBytes(3f), .. BitConverter.GetBytes(-1f), 0b11_01], enc);

        var one2 = new NmCodec(new MvuePruner(1, 2));
        enc = new byte[one2.EncodedBytes(4)];
        one2.Encode([0f, 5f, 2f, 0f], enc, 1);
        Assert.Equal([.. BitConverter.GetBytes(5f), .. BitConverter.GetBytes(2f), 0b01], enc);

        // 3:8, 3 bits per position: kept 7 (pos 2), 1 (pos 5), then a zero at the first free slot (0).
        var three8 = new NmCodec(new MvuePruner(3, 8));
        enc = new byte[three8.EncodedBytes(8)];
        three8.Encode([0f, 0f, 7f, 0f, 0f, 1f, 0f, 0f], enc, 1);
        Assert.Equal([.. BitConverter.GetBytes(7f), .. BitConverter.GetBytes(1f), .. BitConverter.GetBytes(0f), 2 | 5 << 3, 0], enc);
    }

    [Fact]
    public void InvalidNmIsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new MvuePruner(2, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new MvuePruner(0, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => new MvuePruner(2, 17));
    }
}
