using System.Diagnostics;
using System.Text.Json;
using Orchestrator.Spec;
using Orchestrator.Trainer.Checkpointing;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Devices;
using Orchestrator.Trainer.Telemetry;
using Orchestrator.Trainer.Training;
using static TorchSharp.torch;

namespace Orchestrator.Bench.Drivers;

/// <summary>
/// Training throughput of our trainer against PyTorch on the same CNN, global batch, optimizer,
/// threads per worker and in-memory Fashion-MNIST, run alternately so drift hits both alike.
/// </summary>
public sealed class TrainThroughputBenchmark(int warmup, int steps)
{
    /// <summary>The benchmark job: the reference CNN (w32), batch 256, SGD, no augmentation.</summary>
    public static JobSpec Spec(string root, int threads, int workers, CompressionSpec compression) =>
        new("bench-train", DeviceKind.Cpu, new ModelSpec(ModelKind.Cnn, 32, NormKind.Batch),
            new DataSpec(DatasetKind.FashionMnist, root, 0, 0, new AugmentSpec(0, false, 0)),
            new TrainingSpec(1, 256, new OptimizerSpec(OptimizerKind.Sgd, 0.05, 0.9, false, 5e-4), 1, threads),
            new CheckpointSpec(0, 1), workers, compression);

    /// <summary>Global samples/s of this worker's job over <c>steps</c> timed steps after <c>warmup</c> untimed ones.</summary>
    public double MeasureOurs(JobSpec spec, DatasetSplits data, IGradientSynchronizer synchronizer)
    {
        using var run = new TrainingRun(spec, data, new TrainingOptions(CPU, null, synchronizer, NullTrainingObserver.Instance, Resume: false, VerifyEverySteps: 0));
        var position = TrainingPosition.Start;
        for (int i = 0; i < warmup; i++) position = run.Next(position, run.TrainStep(position).Applied);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) position = run.Next(position, run.TrainStep(position).Applied);
        return (double)steps * spec.Training.GlobalBatch / clock.Elapsed.TotalSeconds;
    }

    /// <summary>Runs a command that prints a JSON line with <c>samples_per_second</c> (the PyTorch scripts,
    /// or our workers under mpirun) and returns that figure. Every such process gets the heap settings our own
    /// processes apply at start (<see cref="HeapTuning"/>), so neither side pays glibc's mmap churn.</summary>
    public static double MeasureProcess(string program, IReadOnlyList<string> arguments, TimeSpan limit)
    {
        var result = ChildProcess.Run(program, arguments, limit, "the PyTorch peer needs apt-get install -y python3-torch; our workers need apt-get install -y mpich",
            environment: HeapTuning.Environment);
        var command = $"{program} {string.Join(' ', arguments)}";
        if (result.TimedOut)
            throw new UserFacingException($"{command} ran longer than {limit}");
        if (result.ExitCode != 0 || result.LastJsonLine is not { } line)
            throw new UserFacingException($"{command} failed (exit {result.ExitCode}): {result.Stderr.Trim()}{result.Stdout.Trim()}\n" +
                "The PyTorch peer needs: apt-get install -y python3-torch; our workers need: apt-get install -y mpich");
        return JsonDocument.Parse(line).RootElement.GetProperty("samples_per_second").GetDouble();
    }
}
