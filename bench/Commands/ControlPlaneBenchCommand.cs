using System.CommandLine;
using Orchestrator.Bench.Drivers;
using Orchestrator.Silos.Commands;
using Orchestrator.Silos.Terminal;
using Orchestrator.Spec;
using Orchestrator.Trainer.Data;
using Spectre.Console;

namespace Orchestrator.Bench.Commands;

/// <summary>
/// <c>orchestrator bench control-plane</c>: what the control plane costs and how fast it reacts, on this machine:
/// time from <c>run</c> to the first training step, a job's throughput under the silo (workers heartbeating) vs the
/// same job under plain <c>mpirun</c> (no link), heartbeat calls per second one silo answers, and the time from a
/// worker's death to the job training again.
/// </summary>
public static class ControlPlaneBenchCommand
{
    public static Command Create()
    {
        var runs = new Option<int>("--runs") { Description = "Jobs under the silo and under plain mpirun each, alternating", DefaultValueFactory = _ => 3 }.AtLeast(1);
        var callers = new Option<int>("--callers") { Description = "Concurrent heartbeat loops", DefaultValueFactory = _ => 32 }.AtLeast(1);
        var root = new Option<string>("--root") { DefaultValueFactory = _ => MnistIdxDataset.FashionMnistDefaultRoot };
        var command = new Command("control-plane", "Control-plane figures: time to first step, heartbeat overhead, heartbeat capacity, recovery time") { runs, callers, root };
        command.SetAction(parse => CommandGuard.Run(() => RunAsync(parse.GetValue(runs), parse.GetValue(callers), parse.GetValue(root)!).GetAwaiter().GetResult()));
        return command;
    }

    /// <summary>The job every measurement runs: a small CNN on 25,600 Fashion-MNIST images (200 steps an epoch), 2 workers, fp32 allreduce.</summary>
    private static JobSpec Spec(string name, string root, int epochs = 1) =>
        new(name, DeviceKind.Cpu, new ModelSpec(ModelKind.Cnn, 16, NormKind.Batch),
            new DataSpec(DatasetKind.FashionMnist, root, 25_600, 1000, new AugmentSpec(0, false, 0)),
            new TrainingSpec(epochs, 128, new OptimizerSpec(OptimizerKind.Sgd, 0.02, 0.9, false, 5e-4), 1, 0),
            new CheckpointSpec(20, 2), 2, CompressionSpec.Default with { Codec = CodecKind.None, Algorithm = AllreduceKind.Mpi }, new MetricsSpec(0, "127.0.0.1"),
            new FaultSpec(120, 3, 0.5));

    private static async Task<int> RunAsync(int runs, int callers, string root)
    {
        var scratch = Path.Combine(Path.GetTempPath(), $"orchestrator-cp-bench-{Environment.ProcessId}");
        try
        {
            var limit = TimeSpan.FromMinutes(10);
            var linked = new List<double>();
            var plain = new List<double>();
            var linkedStep = new List<double>();
            var plainStep = new List<double>();
            var firstStep = new List<double>();
            var siloStart = new List<double>();
            for (int run = 0; run < runs; run++)
            {
                plain.Add(MpiJobRunner.Train(Spec("cp-bench-plain", root), Path.Combine(scratch, $"plain-{run}"), limit).GetProperty("samples_per_second").GetDouble());
                plainStep.Add(ControlPlaneProbe.SteadyStepSeconds(RunLayout.Metrics(Path.Combine(scratch, $"plain-{run}", "run"))));
                var timing = await ControlPlaneProbe.RunJobAsync(Spec("cp-bench", root), Path.Combine(scratch, $"silo-{run}"), limit);
                linked.Add(timing.SamplesPerSecond);
                linkedStep.Add(ControlPlaneProbe.SteadyStepSeconds(RunLayout.Metrics(Path.Combine(scratch, $"silo-{run}"))));
                firstStep.Add(timing.FirstStepSeconds);
                siloStart.Add(timing.SiloStartSeconds);
                AnsiConsole.MarkupLineInterpolated($"run {run + 1}: plain mpirun {plain[^1]:F0} samples/s (median step {plainStep[^1] * 1000:F1} ms), under the silo {linked[^1]:F0} samples/s ({linkedStep[^1] * 1000:F1} ms); run -> first step {timing.FirstStepSeconds:F2} s (silo start {timing.SiloStartSeconds:F2} s)");
            }
            double medianPlain = BenchCommand.Median(plain), medianLinked = BenchCommand.Median(linked);
            double stepPlain = BenchCommand.Median(plainStep), stepLinked = BenchCommand.Median(linkedStep);

            var (calls, seconds) = await ControlPlaneProbe.HeartbeatCapacityAsync(Spec("cp-bench-beats", root), Path.Combine(scratch, "beats"), callers, TimeSpan.FromSeconds(10));
            var recovery = await ControlPlaneProbe.RecoveryAsync(Spec("cp-bench-recover", root, epochs: 2) with { Checkpoint = new CheckpointSpec(10, 2) },
                Path.Combine(scratch, "recover"), dieAtStep: 25, limit);

            var table = new Table().AddColumns("figure", "value");
            table.AddRow("time from run to the first training step (median)", $"{BenchCommand.Median(firstStep):F2} s (silo start {BenchCommand.Median(siloStart):F2} s)");
            table.AddRow("whole-job throughput, plain mpirun (no control plane)", $"{medianPlain:F0} samples/s");
            table.AddRow("whole-job throughput, under the silo (every rank heartbeats 1/s)", $"{medianLinked:F0} samples/s ({(medianPlain / medianLinked - 1) * 100:+0.0;-0.0}% time)");
            table.AddRow("median step time after the first 20 steps: plain / under the silo", $"{stepPlain * 1000:F2} / {stepLinked * 1000:F2} ms");
            table.AddRow("control-plane overhead per step (step-time ratio)", $"{stepLinked / stepPlain:F3} ({(stepLinked / stepPlain - 1) * 100:+0.0;-0.0}%)");
            table.AddRow($"heartbeat calls/s one silo answers ({callers} concurrent callers, 1 client)", $"{calls / seconds:N0} ({calls:N0} in {seconds:F1} s)");
            table.AddRow("worker death -> relaunched gang running", $"{recovery.ToRunning:F2} s (backoff 0.5 s included)");
            table.AddRow("worker death -> training again (first new step)", $"{recovery.ToFirstStep:F2} s");
            AnsiConsole.Write(table);
            return 0;
        }
        finally
        {
            if (Directory.Exists(scratch)) Directory.Delete(scratch, recursive: true);
        }
    }
}
