using System.Diagnostics;
using System.Text.Json;
using Orchestrator.Contracts;
using Orchestrator.Contracts.Spec;
using Orchestrator.Trainer.Checkpointing;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Telemetry;
using Orchestrator.Trainer.Training;
using static TorchSharp.torch;

namespace Orchestrator.Silos.Benchmarks;

/// <summary>
/// Single-process training throughput of our trainer against PyTorch on the same CNN, batch,
/// optimizer, thread count and in-memory Fashion-MNIST, run alternately so drift hits both alike.
/// </summary>
public sealed class TrainThroughputBenchmark(JobSpec spec, int warmup, int steps, string python, string script)
{
    /// <summary>Samples/s of our trainer over <c>steps</c> timed steps after <c>warmup</c> untimed ones.</summary>
    public double MeasureOurs(DatasetSplits data)
    {
        using var run = new TrainingRun(spec, data, new TrainingOptions(CPU, null, new SingleProcessSynchronizer(), new SilentObserver(), Resume: false));
        var position = TrainingPosition.Start;
        for (int i = 0; i < warmup; i++) position = Advance(run, position);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) position = Advance(run, position);
        return (double)steps * spec.Training.GlobalBatch / clock.Elapsed.TotalSeconds;
    }

    /// <summary>Samples/s of the PyTorch script (its own timer, same step count).</summary>
    public double MeasurePyTorch(int threads)
    {
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { script, "--root", spec.Data.Root, "--threads", threads.ToString(), "--batch", spec.Training.GlobalBatch.ToString(),
                     "--warmup", warmup.ToString(), "--steps", steps.ToString(), "--seed", spec.Training.Seed.ToString() })
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start) ?? throw new UserFacingException($"could not start {python}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new UserFacingException($"{python} {script} failed (exit {process.ExitCode}): {stderr.Result.Trim()}\nInstall PyTorch with: apt-get install -y python3-torch");
        var line = stdout.Result.Trim().Split('\n').Last();
        return JsonDocument.Parse(line).RootElement.GetProperty("samples_per_second").GetDouble();
    }

    private static TrainingPosition Advance(TrainingRun run, TrainingPosition position) =>
        run.Next(position, run.TrainStep(position).Applied);

    private sealed class SilentObserver : ITrainingObserver
    {
        public void OnStart(TrainingPlan plan) { }
        public void OnStep(StepRecord step) { }
        public void OnEvaluation(EvalRecord evaluation) { }
        public void OnNotice(string message) { }
    }
}
