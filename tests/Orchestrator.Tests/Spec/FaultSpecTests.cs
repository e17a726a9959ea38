using Orchestrator.Spec;
using static Orchestrator.Tests.Spec.SpecTestHelpers;

namespace Orchestrator.Tests.Spec;

/// <summary>The <c>fault</c> section: stall detection and the restart policy.</summary>
public class FaultSpecTests
{
    [Fact]
    public void Absent_section_means_120_s_stall_3_restarts_1_s_backoff()
    {
        var spec = Parse("name: demo");
        Assert.Null(spec.Fault);
        Assert.Equal(new FaultSpec(120, 3, 1), spec.FaultOrDefault);
        Assert.Equal(FaultSpec.Default, Parse("name: demo\nfault: {}").Fault);
    }

    [Fact]
    public void Every_key_binds_and_overrides_apply()
    {
        Assert.Equal(new FaultSpec(3, 0, 0.5), Parse("name: demo\nfault: { stall_seconds: 3, max_restarts: 0, restart_backoff_seconds: 0.5 }").Fault);
        Assert.Equal(7, Parse("name: demo", "fault.max_restarts=7").FaultOrDefault.MaxRestarts);
    }

    [Theory]
    [InlineData("fault: { stall_seconds: 0 }", "fault.stall_seconds: must be >= 1 (line 2)")]
    [InlineData("fault: { max_restarts: -1 }", "fault.max_restarts: must be >= 0 and <= 100 (line 2)")]
    [InlineData("fault: { max_restarts: 101 }", "fault.max_restarts: must be >= 0 and <= 100 (line 2)")]
    [InlineData("fault: { restart_backoff_seconds: -1 }", "fault.restart_backoff_seconds: must be >= 0 and <= 3600 (line 2)")]
    [InlineData("fault: { stall_seconds: soon }", "fault.stall_seconds: expected an integer, got 'soon' (line 2)")]
    [InlineData("fault: { max_restart: 2 }", "fault.max_restart: unknown field; did you mean 'max_restarts'? (line 2)")]
    public void Bad_values_are_reported_with_path_and_line(string body, string expected) =>
        Assert.Equal(expected, FailsOnce("name: demo\n" + body).ToString());

    [Fact]
    public void Built_in_code_specs_get_the_same_rules()
    {
        var errors = JobSpecValidator.Validate(Full with { Fault = new FaultSpec(0, 200, double.NaN) });
        Assert.Equal(["fault.stall_seconds", "fault.max_restarts", "fault.restart_backoff_seconds"], errors.Select(e => e.Path));
    }

    [Fact]
    public void ToYaml_round_trips_the_section_and_leaves_it_out_when_absent()
    {
        var spec = Full with { Fault = new FaultSpec(3, 2, 0.25) };
        var yaml = JobSpecYaml.ToYaml(spec);
        Assert.Contains("fault:\n  stall_seconds: 3\n  max_restarts: 2\n  restart_backoff_seconds: 0.25\n", yaml);
        Assert.Equal(spec, Parse(yaml));
        Assert.DoesNotContain("fault", JobSpecYaml.ToYaml(Full));
    }
}
