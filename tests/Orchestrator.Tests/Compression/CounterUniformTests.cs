using Orchestrator.Trainer.Compression.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Tests.Compression;

/// <summary>
/// The device-side uniform draws (the torch-op codecs' and the 8-bit gradients' randomness): the law (moments, a
/// chi-square over bins, no lag-1 correlation) within bounds of about six standard errors, determinism by seed, and a
/// stream whose successive draws continue it.
/// </summary>
public sealed class CounterUniformTests
{
    private const int Count = 1 << 20;

    [Fact]
    public void Draws_are_uniform_in_the_unit_interval()
    {
        using var scope = NewDisposeScope();
        var u = new CounterUniform(42).Next([Count], CPU).to(ScalarType.Float64);
        Assert.True(u.min().item<double>() >= 0 && u.max().item<double>() < 1);
        // Mean 1/2 and variance 1/12, each within six standard errors (sd of the mean sqrt(1/12/n); of the variance about sqrt(1/180/n)).
        Assert.InRange(u.mean().item<double>(), 0.5 - 6 * Math.Sqrt(1.0 / 12 / Count), 0.5 + 6 * Math.Sqrt(1.0 / 12 / Count));
        Assert.InRange(u.var().item<double>(), 1.0 / 12 - 6 * Math.Sqrt(1.0 / 180 / Count), 1.0 / 12 + 6 * Math.Sqrt(1.0 / 180 / Count));
        // Chi-square over 256 equal bins: 255 degrees of freedom, mean 255, sd sqrt(510).
        const int bins = 256;
        var counts = u.mul(bins).floor().to(ScalarType.Int64).bincount(null, bins).to(ScalarType.Float64);
        double expected = (double)Count / bins;
        double chi2 = counts.sub(expected).square().sum().item<double>() / expected;
        Assert.True(chi2 < 255 + 6 * Math.Sqrt(510), $"chi-square {chi2:F1} over {bins} bins");
        // Neighbours are uncorrelated (sd of the sample correlation about 1/sqrt(n)).
        var centred = u.sub(0.5);
        double r = centred.narrow(0, 0, Count - 1).mul(centred.narrow(0, 1, Count - 1)).mean().item<double>() / (1.0 / 12);
        Assert.True(Math.Abs(r) < 6 / Math.Sqrt(Count), $"lag-1 correlation {r}");
    }

    [Fact]
    public void Equal_seeds_draw_equally_other_seeds_do_not_and_the_stream_continues()
    {
        using var scope = NewDisposeScope();
        var a = new CounterUniform(7).Next([3, 1000], CPU);
        var b = new CounterUniform(7).Next([3, 1000], CPU);
        var c = new CounterUniform(8).Next([3, 1000], CPU);
        Assert.Equal(new long[] { 3, 1000 }, a.shape);
        Assert.Equal(ScalarType.Float32, a.dtype);
        Assert.True(a.eq(b).all().item<bool>());
        Assert.True(a.eq(c).to(ScalarType.Float64).mean().item<double>() < 0.01, "neighbouring seeds share draws");

        // Two draws from one stream are the two halves of one draw twice as long: no draw repeats within a stream.
        var stream = new CounterUniform(9);
        var first = stream.Next([500], CPU);
        var second = stream.Next([700], CPU);
        var whole = new CounterUniform(9).Next([1200], CPU);
        Assert.True(cat([first, second]).eq(whole).all().item<bool>());
        Assert.True(first.eq(second.narrow(0, 0, 500)).to(ScalarType.Float64).mean().item<double>() < 0.01);
    }
}
