using System.Diagnostics;
using Orchestrator.Spec;
using Orchestrator.Trainer.Checkpointing;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Telemetry;
using Orchestrator.Trainer.Training;
using static TorchSharp.torch;

namespace Orchestrator.Bench.Drivers;

/// <summary>One configuration of <c>bench large-batch-throughput</c>: a model at a global batch, whole or in micro-batches.</summary>
/// <param name="MicroBatch">Samples per forward/backward; 0 = the whole batch.</param>
public sealed record ThroughputCase(ModelKind Model, int Batch, int MicroBatch, NormKind Norm = NormKind.Batch, int GhostBatch = 0)
{
    /// <summary>The example CNN's width, and resnet20's usual one.</summary>
    public int Width => Model == ModelKind.Cnn ? 32 : 16;

    /// <summary>The model's name in the PyTorch script (<c>cnn</c>, <c>resnet20</c>).</summary>
    public string PeerModel => Model == ModelKind.Cnn ? "cnn" : "resnet20";

    /// <summary>How tables label the model.</summary>
    public string Label => $"{PeerModel} w{Width}";

    /// <summary>How tables label the passes: <c>whole</c>, or the micro-batch size.</summary>
    public string PassLabel => MicroBatch is > 0 && MicroBatch < Batch ? $"micro {MicroBatch}" : "whole";

    /// <summary>The job: Fashion-MNIST, no augmentation, SGD as the PyTorch script.</summary>
    public JobSpec Spec(string root, int threads) =>
        new("bench-large-batch", DeviceKind.Cpu, new ModelSpec(Model, Width, Norm),
            new DataSpec(DatasetKind.FashionMnist, root, 0, 0, new AugmentSpec(0, false, 0)),
            new TrainingSpec(1, Batch, new OptimizerSpec(OptimizerKind.Sgd, 0.05, 0.9, false, 5e-4), 1, threads,
                GhostBatch: GhostBatch, MicroBatch: MicroBatch is > 0 && MicroBatch < Batch ? MicroBatch : 0),
            new CheckpointSpec(0, 1));
}

/// <summary>
/// Samples/s of one process training a <see cref="ThroughputCase"/> for at least a given number of samples (and
/// <see cref="LargeBatchThroughput.MinimumSteps"/> steps) after <c>warmup</c> untimed steps, the same for both systems: ours in this process, the PyTorch peer (<c>bench/pytorch/large_batch_throughput.py</c>) as a child.
/// </summary>
public sealed class LargeBatchThroughput(string root, int threads, int samples, string python, int warmup)
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(20);

    /// <summary>
    /// The fewest timed steps of any case: one step of a large batch is no measurement (resnet20 at 4096 whole swung
    /// between 483 and 863 samples/s from one run to the next with a single timed step).
    /// </summary>
    public const int MinimumSteps = 3;

    /// <summary>Timed steps for <paramref name="c"/>: enough to cover the sample count, at least <see cref="MinimumSteps"/>.</summary>
    public int Steps(ThroughputCase c) => Math.Max(MinimumSteps, (samples + c.Batch - 1) / c.Batch);

    /// <summary>Our trainer's samples/s on <paramref name="c"/>, with <paramref name="data"/> loaded once by the caller.</summary>
    public double MeasureOurs(ThroughputCase c, DatasetSplits data)
    {
        var spec = c.Spec(root, threads);
        using var run = new TrainingRun(spec, data, new TrainingOptions(CPU, null, new SingleProcessSynchronizer(), NullTrainingObserver.Instance,
            Resume: false, VerifyEverySteps: 0));
        var position = TrainingPosition.Start;
        for (int i = 0; i < warmup; i++) position = run.Next(position, run.TrainStep(position).Applied);
        int steps = Steps(c);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) position = run.Next(position, run.TrainStep(position).Applied);
        return (double)steps * c.Batch / clock.Elapsed.TotalSeconds;
    }

    /// <summary>PyTorch's samples/s on <paramref name="c"/> (plain batch norm only: the peer has no ghost batch norm),
    /// with model and inputs in its default NCHW layout or, when <paramref name="channelsLast"/>, in <c>torch.channels_last</c>.</summary>
    public double MeasurePeer(ThroughputCase c, bool channelsLast) => TrainThroughputBenchmark.MeasureProcess(python,
        [Path.Combine(AppContext.BaseDirectory, "bench", "pytorch", "large_batch_throughput.py"), "--root", root, "--model", c.PeerModel,
         "--threads", $"{threads}", "--batch", $"{c.Batch}", "--micro", $"{c.MicroBatch}", "--warmup", $"{warmup}", "--steps", $"{Steps(c)}",
         .. channelsLast ? ["--channels-last"] : Array.Empty<string>()], Limit);
}
