using Orchestrator.Trainer.Inference.LoadGen;

namespace Orchestrator.Tests.Inference;

/// <summary>LoadGen's percentile: the sorted latencies at index floor(p n), exact on known values.</summary>
public sealed class LatencyPercentileTests
{
    private static double[] Shuffled(int n) => Enumerable.Range(1, n).Select(i => (double)i).OrderBy(i => (i * 7919) % n).ToArray();

    [Theory]
    [InlineData(100, 0.90, 91)]
    [InlineData(100, 0.99, 100)]
    [InlineData(100, 0.50, 51)]
    [InlineData(1000, 0.90, 901)]
    [InlineData(1000, 0.99, 991)]
    [InlineData(1024, 0.90, 922)] // floor(921.6) = 921 -> the 922nd smallest
    [InlineData(1, 0.99, 1)]
    [InlineData(7, 0.90, 7)]      // floor(6.3) = 6 -> the largest
    public void Percentile_is_the_sorted_value_at_floor_p_n(int n, double p, double expected) =>
        Assert.Equal(expected, LatencyPercentile.Of(Shuffled(n), p));

    [Fact]
    public void No_latencies_or_a_percentile_outside_zero_one_is_refused()
    {
        Assert.Throws<ArgumentException>(() => LatencyPercentile.Of([], 0.9));
        Assert.Throws<ArgumentOutOfRangeException>(() => LatencyPercentile.Of([1.0], 1.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => LatencyPercentile.Of([1.0], 0));
    }
}
