using Orchestrator.Silos.Emulation;

namespace Orchestrator.Tests.ControlPlane;

public sealed class LinkRateTests
{
    [Theory]
    [InlineData("50mbit", 50e6)]
    [InlineData("1gbit", 1e9)]
    [InlineData("2.5gbit", 2.5e9)]
    [InlineData("800kbit", 800e3)]
    [InlineData("1tbit", 1e12)]
    [InlineData("9600bit", 9600)]
    public void Parses_tc_rates_in_decimal_units(string text, double bitsPerSecond)
    {
        Assert.True(LinkRate.TryParse(text, out var rate));
        Assert.Equal(bitsPerSecond, rate.BitsPerSecond, 6);
        Assert.Equal(text, rate.Text);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("fast")]
    [InlineData("0mbit")]
    [InlineData("100mbps")] // tc's bytes-per-second unit: refused rather than read as bits
    [InlineData("-1gbit")]
    [InlineData("1 gbit")]
    [InlineData("1Gbit")]
    public void Refuses_what_is_not_a_positive_rate(string? text) => Assert.False(LinkRate.TryParse(text, out _));

    [Theory]
    [InlineData("10gbit", 1_250_000)] // a millisecond of the rate
    [InlineData("1gbit", 125_000)]
    [InlineData("100mbit", LinkRate.MinimumBurstBytes)] // 12.5 KB a millisecond: the floor
    [InlineData("50mbit", LinkRate.MinimumBurstBytes)]
    public void Burst_is_a_millisecond_of_the_rate_with_a_floor(string text, long burst)
    {
        Assert.True(LinkRate.TryParse(text, out var rate));
        Assert.Equal(burst, rate.BurstBytes);
    }

    [Fact]
    public void Burst_credit_is_small_against_a_transfer()
    {
        // The reason for the burst: an idle 50 Mbit/s link must not send much faster than the wire. 1.7 MB (the example
        // CNN's gradients) take 272 ms; the burst lets at most 5.2 ms of that through at once.
        Assert.True(LinkRate.TryParse("50mbit", out var rate));
        Assert.Equal(0.272, rate.SecondsFor(1.7e6), 6);
        Assert.True(rate.SecondsFor(rate.BurstBytes) < 0.02 * rate.SecondsFor(1.7e6));
    }
}
