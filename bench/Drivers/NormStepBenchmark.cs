using System.Diagnostics;
using Orchestrator.Bench.Commands;
using Orchestrator.Spec;
using Orchestrator.Trainer.Devices;
using Orchestrator.Trainer.Models;
using Orchestrator.Trainer.Normalization;
using Orchestrator.Trainer.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Bench.Drivers;

/// <summary>One configuration of <see cref="NormStepBenchmark"/>: plain batch norm (<see cref="Ghost"/> 0) or ghost batch norm.</summary>
/// <param name="Ghost">Rows per ghost batch; 0 = plain batch norm.</param>
/// <param name="StepMs">Every timed step, in milliseconds, in the order run.</param>
/// <param name="RoundMs">The median step time of each round.</param>
public sealed record NormStepTiming(int Ghost, IReadOnlyList<double> StepMs, IReadOnlyList<double> RoundMs)
{
    /// <summary>Median step time in milliseconds.</summary>
    public double MedianMs => BenchCommand.Median(StepMs);

    /// <summary>"batch norm" or "ghost N".</summary>
    public string Label => Ghost == 0 ? "batch norm" : $"ghost {Ghost}";
}

/// <summary>Step times of one model at one batch: plain batch norm first, then each ghost size.</summary>
public sealed record NormStepResult(ModelKind Model, int Width, int Batch, IReadOnlyList<NormStepTiming> Timings)
{
    /// <summary>The plain batch norm timing.</summary>
    public NormStepTiming BatchNorm => Timings.Single(t => t.Ghost == 0);

    /// <summary>Median ghost step time over median batch-norm step time.</summary>
    public double Ratio(NormStepTiming ghost) => ghost.MedianMs / BatchNorm.MedianMs;

    /// <summary>The median over rounds of the ghost/batch-norm ratio within each round: less sensitive to the
    /// machine's load drifting between rounds than <see cref="Ratio"/>.</summary>
    public double PairedRatio(NormStepTiming ghost) =>
        BenchCommand.Median(ghost.RoundMs.Zip(BatchNorm.RoundMs, (g, b) => g / b).ToList());
}

/// <summary>
/// Training-step time (forward, backward, SGD step) of a model with ghost batch norm against the same model
/// with plain batch norm, same batch, same threads, in one process. The configurations run in interleaved
/// rounds (a few steps of each in turn), so drift and neighbours on a shared machine hit all of them alike,
/// and each figure is the median over all its timed steps.
/// </summary>
/// <remarks>
/// Inputs are random Fashion-MNIST-shaped images (1x28x28, 10 classes): the step's cost does not depend on the
/// pixel values, and the benchmark needs no dataset. The convolution path is the one training uses
/// (<see cref="ConvolutionSelfCheck"/>), and the optimizer is the trainer's SGD (momentum 0.9, weight decay 5e-4).
/// </remarks>
public sealed class NormStepBenchmark(int warmup, int rounds, int stepsPerRound)
{
    private static readonly ModelInput FashionMnist = new(1, 28, 28, 10);

    /// <summary>Fires after each round with the round number (1-based) and the medians so far.</summary>
    public event Action<int, NormStepResult>? RoundFinished;

    /// <summary>Measures <paramref name="kind"/> at <paramref name="batch"/> with plain batch norm and with each of <paramref name="ghosts"/>.</summary>
    public NormStepResult Measure(ModelKind kind, int width, int batch, IReadOnlyList<int> ghosts)
    {
        var configs = new List<Config>();
        try
        {
            configs.Add(new Config(0, kind, width));
            foreach (var ghost in ghosts) configs.Add(new Config(ghost, kind, width));
            using var scope = NewDisposeScope();
            using var generator = new Generator(1);
            var x = randn([batch, FashionMnist.Channels, FashionMnist.Height, FashionMnist.Width], generator: generator);
            var y = randint(FashionMnist.Classes, [batch], generator: generator);
            foreach (var config in configs)
                for (int i = 0; i < warmup; i++) config.Step(x, y);
            for (int round = 1; round <= rounds; round++)
            {
                foreach (var config in configs)
                {
                    var times = new List<double>();
                    for (int i = 0; i < stepsPerRound; i++) times.Add(config.Step(x, y));
                    config.Times.AddRange(times);
                    config.Rounds.Add(BenchCommand.Median(times));
                }
                RoundFinished?.Invoke(round, Result(kind, width, batch, configs));
            }
            return Result(kind, width, batch, configs);
        }
        finally
        {
            foreach (var config in configs) config.Dispose();
        }
    }

    private static NormStepResult Result(ModelKind kind, int width, int batch, List<Config> configs) =>
        new(kind, width, batch, configs.Select(c => new NormStepTiming(c.Ghost, c.Times.ToList(), c.Rounds.ToList())).ToList());

    private sealed class Config : IDisposable
    {
        private readonly nn.Module<Tensor, Tensor> model;
        private readonly TorchSharp.Modules.OptimizerHelper optimizer;

        public Config(int ghost, ModelKind kind, int width)
        {
            Ghost = ghost;
            torch.random.manual_seed(1);
            model = ModelRegistry.Create(new ModelSpec(kind, width, ghost == 0 ? NormKind.Batch : NormKind.GhostBatch), FashionMnist, ghost);
            ConvolutionSelfCheck.EnsureCorrect(model, CPU);
            model.train();
            optimizer = OptimizerFactory.Create(new OptimizerSpec(OptimizerKind.Sgd, 0.01, 0.9, false, 5e-4), model.parameters());
        }

        public int Ghost { get; }
        public List<double> Times { get; } = [];
        public List<double> Rounds { get; } = [];

        /// <summary>One training step; returns its wall time in milliseconds.</summary>
        public double Step(Tensor x, Tensor y)
        {
            var started = Stopwatch.GetTimestamp();
            using (var scope = NewDisposeScope())
            {
                optimizer.zero_grad();
                var loss = nn.functional.cross_entropy(model.forward(x), y);
                loss.backward();
                optimizer.step();
            }
            return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }

        public void Dispose() => model.Dispose();
    }
}
