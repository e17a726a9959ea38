using System.Globalization;
using Orchestrator.Trainer.Inference.LoadGen;

namespace Orchestrator.Tests.Inference;

/// <summary>LoadGen's query generation: server arrivals are a Poisson process at the asked rate, everything follows from the seed.</summary>
public sealed class QueryGeneratorTests
{
    private const double Rate = 250; // queries per second
    private const int Count = 20_000;

    private static string F(double v) => v.ToString("G5", CultureInfo.InvariantCulture);

    private static double[] Gaps(IEnumerable<Query> queries, int count)
    {
        var arrivals = queries.Take(count).Select(q => q.Arrival.TotalSeconds).ToArray();
        return arrivals.Select((t, i) => i == 0 ? t : t - arrivals[i - 1]).ToArray();
    }

    /// <summary>
    /// Index of dispersion of the counts in windows holding 10 arrivals on average: variance / mean is 1 for a Poisson process,
    /// and over K windows (K - 1) D is about chi-squared with K - 1 degrees of freedom, so D has standard deviation sqrt(2 / (K - 1)).
    /// </summary>
    private static (double dispersion, double sd, double meanCount, double meanSd) Dispersion(IReadOnlyList<double> arrivals, double rate)
    {
        double window = 10 / rate;
        int windows = (int)(arrivals[^1] / window) - 1;
        var counts = new double[windows];
        foreach (var t in arrivals)
        {
            int w = (int)(t / window);
            if (w < windows) counts[w]++;
        }
        double mean = counts.Average();
        double variance = counts.Sum(c => (c - mean) * (c - mean)) / (windows - 1);
        return (variance / mean, Math.Sqrt(2.0 / (windows - 1)), mean, Math.Sqrt(10.0 / windows));
    }

    [Fact]
    public void Server_arrivals_are_poisson_at_the_asked_rate()
    {
        var settings = ScenarioSettings.Official(InferenceScenario.Server, queriesPerSecond: Rate, seed: 7);
        var queries = QueryGenerator.Generate(settings, librarySize: 1000).Take(Count).ToList();
        var gaps = Gaps(queries, Count);

        // Exponential gaps of mean 1/rate: the sample mean is within 5 standard errors (1/rate/sqrt(n)).
        double mean = gaps.Average();
        Assert.True(Math.Abs(mean - 1 / Rate) <= 5 / Rate / Math.Sqrt(Count), $"mean gap {F(mean)} s, expected {F(1 / Rate)} s");
        // Kolmogorov-Smirnov against Exp(rate): sqrt(n) D exceeds 1.95 with probability 0.001.
        var sorted = gaps.Order().ToArray();
        double d = 0;
        for (int i = 0; i < sorted.Length; i++)
        {
            double cdf = 1 - Math.Exp(-Rate * sorted[i]);
            d = Math.Max(d, Math.Max((i + 1.0) / sorted.Length - cdf, cdf - (double)i / sorted.Length));
        }
        Assert.True(d * Math.Sqrt(Count) <= 1.95, $"KS statistic sqrt(n) D = {F(d * Math.Sqrt(Count))} > 1.95: gaps are not exponential");
        // Counts per window: Poisson, so mean = variance.
        var (dispersion, sd, meanCount, meanSd) = Dispersion(queries.Select(q => q.Arrival.TotalSeconds).ToArray(), Rate);
        Assert.True(Math.Abs(meanCount - 10) <= 5 * meanSd, $"mean count per window {F(meanCount)}, expected 10");
        Assert.True(Math.Abs(dispersion - 1) <= 5 * sd, $"index of dispersion {F(dispersion)}, expected 1 +- 5 x {F(sd)}");
        // One sample per query, from the library.
        Assert.All(queries, q => Assert.InRange(Assert.Single(q.Samples), 0, 999));
    }

    [Fact]
    public void The_dispersion_check_tells_regular_arrivals_from_poisson_ones()
    {
        // Multi-stream's arrivals, one per interval at the same rate: counts barely vary, far below the Poisson dispersion of 1.
        var settings = ScenarioSettings.Official(InferenceScenario.MultiStream, samplesPerQuery: 4, bound: TimeSpan.FromSeconds(1 / Rate));
        var queries = QueryGenerator.Generate(settings, librarySize: 100).Take(Count).ToList();
        var (dispersion, sd, _, _) = Dispersion(queries.Select(q => q.Arrival.TotalSeconds).ToArray(), Rate);
        Assert.True(Math.Abs(dispersion - 1) > 5 * sd, $"regular arrivals passed as Poisson (dispersion {F(dispersion)})");
        Assert.All(queries.Take(100), q => Assert.Equal(q.Id / Rate, q.Arrival.TotalSeconds, 9));
        Assert.All(queries, q => Assert.Equal(4, q.Samples.Length));
    }

    [Fact]
    public void Queries_follow_from_the_seed()
    {
        IEnumerable<(TimeSpan, int)> Take(int seed) => QueryGenerator.Generate(
            ScenarioSettings.Official(InferenceScenario.Server, queriesPerSecond: 100, seed: seed), 500).Take(200).Select(q => (q.Arrival, q.Samples[0]));
        Assert.Equal(Take(3), Take(3));
        Assert.NotEqual(Take(3), Take(4));
    }

    [Fact]
    public void Offline_is_one_query_of_at_least_the_minimum_samples_drawn_over_the_whole_library()
    {
        var settings = ScenarioSettings.Official(InferenceScenario.Offline);
        var only = Assert.Single(QueryGenerator.Generate(settings, librarySize: 10));
        Assert.Equal(ScenarioSettings.OfflineMinSamples, only.Samples.Length);
        Assert.Equal(Enumerable.Range(0, 10), only.Samples.Distinct().Order()); // 24,576 draws cover 10 samples
        Assert.Equal(30_000, Assert.Single(QueryGenerator.Generate(settings, 10, offlineSamples: 30_000)).Samples.Length);
    }
}
