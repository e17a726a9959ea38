using System.Text.Json;
using Orchestrator.Tests.Cli;

namespace Orchestrator.Tests.ControlPlane;

/// <summary><c>orchestrator run</c> end to end: an in-process silo, real MPI workers, the CLI's exit code and output.</summary>
public sealed class RunCliTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(3);

    [Fact]
    public void A_tiny_job_at_2_workers_ends_Succeeded_with_exit_0_and_a_summary()
    {
        using var dir = new TempDirectory();
        var spec = CliSpecs.Write(dir, ControlPlaneSpecs.Synthetic("cp-run"));
        var output = Path.Combine(dir.Path, "run");

        var result = CliRunner.Run(dir.Path, ["run", spec, "--workers", "2", "--out", output], Limit);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("succeeded", result.Output);
        Assert.Contains("running", result.Output);
        Assert.Matches(@"│ workers\s+│ 2\s", result.Output);
        Assert.Matches(@"│ restarts\s+│ 0 of", result.Output);
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "summary.json")));
        Assert.Equal(2, summary.RootElement.GetProperty("workers").GetInt32());
        Assert.Contains("[0] ", File.ReadAllText(Path.Combine(output, "logs", "launcher.log")));
        Assert.False(ControlPlaneSpecs.AnyProcessMentions(output), "a worker outlived the run");
    }

    [Fact]
    public void A_spec_error_exits_2_naming_the_field_and_starts_nothing()
    {
        using var dir = new TempDirectory();
        var spec = CliSpecs.Write(dir, ControlPlaneSpecs.Synthetic("cp-bad"));
        var output = Path.Combine(dir.Path, "run");

        var result = CliRunner.Run(dir.Path, ["run", spec, "--workers", "2", "--set", "training.global_batch=63", "--out", output], Limit);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("training.global_batch", result.Output);
        Assert.False(Directory.Exists(output), "nothing may start for an invalid spec");
    }

    [Fact]
    public void More_workers_than_slots_exits_2_before_starting()
    {
        using var dir = new TempDirectory();
        var spec = CliSpecs.Write(dir, ControlPlaneSpecs.Synthetic("cp-slots"));
        var output = Path.Combine(dir.Path, "run");

        var result = CliRunner.Run(dir.Path, ["run", spec, "--workers", "2", "--slots", "1", "--out", output], Limit);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("--workers", result.Output);
        Assert.False(Directory.Exists(output));
    }
}
