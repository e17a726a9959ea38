using Orchestrator.Trainer.Compression;

namespace Orchestrator.Tests.Compression;

/// <summary>
/// Monte Carlo checks of a stochastic codec as an estimator of its input. K decodes with different
/// seeds give per-element sample means and variances; the tolerances come from the variances
/// themselves (about 5 standard deviations), not from fixed constants. Elements inside one block are
/// dependent, so spreads of block-summed statistics are bounded by Cauchy-Schwarz with the block length.
/// </summary>
internal sealed class EstimatorStats
{
    public readonly int Draws;
    public readonly double[] Mean;
    public readonly double[] Var;
    public const int GroupSize = 16;
    public readonly double[] GroupMean;
    public readonly double[] GroupVar;

    public EstimatorStats(IGradientCodec codec, float[] x, int draws, ulong firstSeed = 1000)
    {
        Draws = draws;
        int n = x.Length;
        var sum = new double[n];
        var sum2 = new double[n];
        var enc = new byte[codec.EncodedBytes(n)];
        var y = new float[n];
        int groups = (n + GroupSize - 1) / GroupSize;
        var gsum = new double[groups];
        var gsum2 = new double[groups];
        for (int k = 0; k < draws; k++)
        {
            codec.Encode(x, enc, firstSeed + (ulong)k);
            codec.Decode(enc, y);
            for (int g = 0; g < groups; g++)
            {
                double s = 0;
                for (int i = g * GroupSize; i < Math.Min(n, (g + 1) * GroupSize); i++) s += x[i] < 0 ? -y[i] : y[i];
                gsum[g] += s;
                gsum2[g] += s * s;
            }
            for (int i = 0; i < n; i++)
            {
                sum[i] += y[i];
                sum2[i] += (double)y[i] * y[i];
            }
        }
        GroupMean = new double[groups];
        GroupVar = new double[groups];
        for (int g = 0; g < groups; g++)
        {
            GroupMean[g] = gsum[g] / draws;
            GroupVar[g] = Math.Max(0, (gsum2[g] - draws * GroupMean[g] * GroupMean[g]) / (draws - 1));
        }
        Mean = new double[n];
        Var = new double[n];
        for (int i = 0; i < n; i++)
        {
            Mean[i] = sum[i] / draws;
            Var[i] = Math.Max(0, (sum2[i] - draws * Mean[i] * Mean[i]) / (draws - 1));
        }
    }

    /// <summary>
    /// Unbiasedness with known per-element variances <paramref name="variance"/>: T = sum (mean - x)^2 / (var / K)
    /// has expectation d (elements with var > 0) and, z-scores being about normal and correlated only
    /// within a block of <paramref name="block"/>, standard deviation at most sqrt(2 d block).
    /// Elements with zero variance must be exact (up to fp32 rounding of the decode).
    /// </summary>
    public void AssertUnbiased(float[] x, double[] variance, int block)
    {
        double t = 0;
        int d = 0;
        for (int i = 0; i < x.Length; i++)
        {
            if (variance[i] <= 0)
            {
                Assert.True(Math.Abs(Mean[i] - x[i]) <= 1e-6 * Math.Abs(x[i]), $"deterministic element {i}: mean {Mean[i]} vs {x[i]}");
                continue;
            }
            t += (Mean[i] - x[i]) * (Mean[i] - x[i]) / (variance[i] / Draws);
            d++;
        }
        Assert.True(d > 0);
        double sd = Math.Sqrt(2.0 * d * block);
        Assert.True(Math.Abs(t - d) < 5 * sd, $"chi-square {t:F1} vs {d} +- {sd:F1}: biased?");
    }

    /// <summary>
    /// Unbiasedness without a closed-form variance (compound codecs): per group of
    /// <see cref="GroupSize"/> consecutive elements (whole blocks), G = sum sign(x_i) y_i, so a
    /// shrinkage bias cannot cancel inside a group. Its variance is estimated from the draws, which
    /// includes every within-group correlation; groups are then nearly independent, so
    /// T = sum (mean G - E G)^2 / (var G / K) is about chi-square with d = #groups.
    /// </summary>
    public void AssertUnbiasedByGroups(float[] x)
    {
        double t = 0;
        int d = 0;
        for (int g = 0; g < GroupMean.Length; g++)
        {
            double expected = 0;
            for (int i = g * GroupSize; i < Math.Min(x.Length, (g + 1) * GroupSize); i++) expected += Math.Abs(x[i]);
            if (GroupVar[g] <= 0)
            {
                Assert.True(Math.Abs(GroupMean[g] - expected) <= 1e-6 * expected, $"deterministic group {g}: {GroupMean[g]} vs {expected}");
                continue;
            }
            t += (GroupMean[g] - expected) * (GroupMean[g] - expected) / (GroupVar[g] / Draws);
            d++;
        }
        Assert.True(d > 0);
        double sd = Math.Sqrt(2.0 * d);
        Assert.True(Math.Abs(t - d) < 5 * sd, $"group chi-square {t:F1} vs {d} +- {sd:F1}: biased?");
    }

    /// <summary>
    /// Variance = formula: sum of sample variances vs sum of <paramref name="variance"/>. Each sample
    /// variance has variance about (mu4 - var^2) / K (<paramref name="fourth"/> = mu4); block
    /// correlation inflates the sum's variance by at most the block length.
    /// </summary>
    public void AssertVariance(double[] variance, double[] fourth, int block)
    {
        double observed = Var.Sum(), expected = variance.Sum();
        double spread = 0;
        for (int i = 0; i < variance.Length; i++) spread += (fourth[i] - variance[i] * variance[i]) / Draws;
        double sd = Math.Sqrt(block * spread);
        Assert.True(expected > 0);
        Assert.True(Math.Abs(observed - expected) < 5 * sd + 1e-9 * expected,
            $"sample variance sum {observed:G6} vs formula {expected:G6} +- {sd:G3}");
    }

    /// <summary>Variance and fourth central moment of a value that is <paramref name="hit"/> with
    /// probability <paramref name="p"/> and <paramref name="miss"/> otherwise.</summary>
    public static (double Var, double Fourth) TwoPoint(double p, double hit, double miss)
    {
        double mean = p * hit + (1 - p) * miss;
        double d1 = hit - mean, d0 = miss - mean;
        return (p * d1 * d1 + (1 - p) * d0 * d0, p * Math.Pow(d1, 4) + (1 - p) * Math.Pow(d0, 4));
    }
}
