namespace Orchestrator.Trainer.Inference.LoadGen;

/// <summary>
/// LoadGen's latency percentile: the latencies sorted ascending, the one at index floor(p x n) (clamped to the last).
/// For 100 latencies the 90th percentile is the 91st smallest, the 99th the largest: the bound must hold for strictly
/// more than p of the queries.
/// </summary>
public static class LatencyPercentile
{
    /// <summary>The <paramref name="percentile"/> (in (0, 1)) of <paramref name="latencies"/>, in their unit.</summary>
    public static double Of(IReadOnlyCollection<double> latencies, double percentile)
    {
        if (latencies.Count == 0) throw new ArgumentException("no latencies to take a percentile of", nameof(latencies));
        if (percentile is <= 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(percentile), percentile, "must be in (0, 1)");
        var sorted = latencies.Order().ToArray();
        return sorted[Index(sorted.Length, percentile)];
    }

    /// <summary>floor(p x n) clamped to n - 1; a hair of tolerance so 0.99 x 100 counts as 99 whatever the rounding of 0.99.</summary>
    public static int Index(int count, double percentile) => (int)Math.Min(count - 1, Math.Floor(percentile * count + 1e-9));
}
