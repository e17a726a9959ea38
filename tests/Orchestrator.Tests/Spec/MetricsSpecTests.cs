using Orchestrator.Spec;
using static Orchestrator.Tests.Spec.SpecTestHelpers;

namespace Orchestrator.Tests.Spec;

/// <summary>The <c>metrics</c> section: where each worker serves Prometheus metrics.</summary>
public class MetricsSpecTests
{
    [Fact]
    public void Absent_section_means_port_9400_on_loopback()
    {
        var spec = Parse("name: demo");
        Assert.Null(spec.Metrics);
        Assert.Equal(new MetricsSpec(9400, "127.0.0.1"), spec.MetricsOrDefault);
        Assert.True(spec.MetricsOrDefault.Enabled);
        Assert.Equal(MetricsSpec.Default, Parse("name: demo\nmetrics: {}").Metrics);
    }

    [Fact]
    public void Every_key_binds_and_port_0_turns_metrics_off()
    {
        Assert.Equal(new MetricsSpec(9500, "0.0.0.0"), Parse("name: demo\nmetrics: { port: 9500, host: 0.0.0.0 }").Metrics);
        var off = Parse("name: demo\nmetrics:\n  port: 0").MetricsOrDefault;
        Assert.False(off.Enabled);
        Assert.Equal("127.0.0.1", off.Host);
        Assert.Equal(9600, Parse("name: demo", "metrics.port=9600").MetricsOrDefault.Port);
    }

    [Theory]
    [InlineData("metrics: { port: -1 }", "metrics.port: must be 0 (off) or a port 1..65535 (line 2)")]
    [InlineData("metrics: { port: 65536 }", "metrics.port: must be 0 (off) or a port 1..65535 (line 2)")]
    [InlineData("metrics: { port: http }", "metrics.port: expected an integer, got 'http' (line 2)")]
    [InlineData("metrics: { host: '' }", "metrics.host: must not be empty (line 2)")]
    [InlineData("metrics: { prot: 9400 }", "metrics.prot: unknown field; did you mean 'port'? (line 2)")]
    public void Bad_values_are_reported_with_path_and_line(string body, string expected) =>
        Assert.Equal(expected, FailsOnce("name: demo\n" + body).ToString());

    [Fact]
    public void ToYaml_round_trips_the_section_and_leaves_it_out_when_absent()
    {
        var spec = Full with { Metrics = new MetricsSpec(0, "127.0.0.1") };
        var yaml = JobSpecYaml.ToYaml(spec);
        Assert.Contains("metrics:\n  port: 0\n  host: \"127.0.0.1\"\n", yaml);
        Assert.Equal(spec, Parse(yaml));
        Assert.DoesNotContain("metrics", JobSpecYaml.ToYaml(Full));
        Assert.Equal(Full, Parse(JobSpecYaml.ToYaml(Full)));
    }
}
