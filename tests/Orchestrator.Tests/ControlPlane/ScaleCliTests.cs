using Orchestrator.Tests.Cli;
using Orchestrator.Tests.Observability;
using Orchestrator.Trainer.Telemetry;
using Orchestrator.Trainer.Training;

namespace Orchestrator.Tests.ControlPlane;

/// <summary>
/// <c>orchestrator scale</c> as a user runs it: a real <c>up</c> silo (gangs under the gang-exec supervisor), a 2-worker
/// job slowed by the step-delay hook, <c>scale</c> refused above the capacity, then 2 -> 1 mid-epoch, and the job
/// finishing on 1 worker from the checkpoint the gang wrote when it stopped.
/// </summary>
public sealed class ScaleCliTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);

    [Fact]
    public void Scale_checkpoints_and_relaunches_a_running_job_with_the_new_worker_count()
    {
        using var dir = new TempDirectory();
        var port = FreePorts.Consecutive(2);
        var environment = new Dictionary<string, string> { [FaultInjection.StepDelayVariable] = "150", [SampleLog.Variable] = "1" };
        using var silo = UpSilo.Start(dir.Path, $"cluster: {{id: cp-scale}}\nsilo: {{port: {port}, gateway_port: {port + 1}}}\nslots: 2\nmetrics_port: 0\n",
            environment: environment);
        CliResult Cli(params string[] args) => CliRunner.Run(dir.Path, [.. args, "--silo", silo.Gateway, "--cluster", "cp-scale"], Limit);
        var spec = dir.File("job.yaml");
        File.WriteAllText(spec, ControlPlaneSpecs.Synthetic("cl-scale-run", epochs: 8)); // long enough to still run after two CLI calls on a loaded machine
        var output = Path.Combine(dir.Path, "runs", "run"); // under the silo's runs_root

        var submitted = Cli("submit", spec, "--workers", "2", "--out", output);
        Assert.True(submitted.ExitCode == 0, submitted.ToString());
        var metrics = Path.Combine(output, "metrics.jsonl");
        var deadline = DateTime.UtcNow + Limit;
        while (!File.Exists(metrics) || File.ReadLines(metrics).Count() < 3)
        {
            Assert.True(DateTime.UtcNow < deadline, $"no training progress:\n{silo.Output}");
            Thread.Sleep(100);
        }

        var tooMany = Cli("scale", "cl-scale-run", "--workers", "4");
        Assert.True(tooMany.ExitCode == 2, tooMany.ToString());
        Assert.Contains("the cluster's 2 slots could never hold the gang", tooMany.Output);
        var scaled = Cli("scale", "cl-scale-run", "--workers", "1");
        Assert.True(scaled.ExitCode == 0, scaled.ToString());
        Assert.Contains("rescaling, workers 2 -> 1", scaled.Output);

        var watched = Cli("status", "cl-scale-run", "--watch");
        Assert.True(watched.ExitCode == 0, watched.ToString());
        Assert.Contains("relaunch with 1 workers", watched.Output);
        Assert.Contains("succeeded", watched.Output);
        var samples = Directory.GetFiles(Path.Combine(output, "samples")).Select(f => Path.GetFileName(f)!).Order().ToArray();
        Assert.Equal<string>(["launch-1.rank-0.txt", "launch-1.rank-1.txt", "launch-2.rank-0.txt"], samples);
        Assert.Contains("resumed from", File.ReadAllText(Path.Combine(output, "logs", "launcher.log")));
    }
}
