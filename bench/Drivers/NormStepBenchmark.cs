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

/// <summary>A normalization to time: plain batch norm (<see cref="Ghost"/> 0) or ghost batch norm, on its fused CPU path or the generic one.</summary>
/// <param name="Ghost">Rows per ghost batch; 0 = plain batch norm.</param>
/// <param name="Generic">Ghost batch norm on the generic path (chunks folded into channels for libtorch's batch norm), the path every input took before the fused one.</param>
public sealed record NormChoice(int Ghost, bool Generic = false)
{
    /// <summary>"batch norm", "ghost N" or "ghost N, generic path".</summary>
    public string Label => Ghost == 0 ? "batch norm" : Generic ? $"ghost {Ghost}, generic path" : $"ghost {Ghost}";

    /// <summary>Puts every ghost batch norm layer of <paramref name="module"/> on the chosen path.</summary>
    internal void Apply(nn.Module module)
    {
        foreach (var layer in module.modules().OfType<GhostBatchNorm>()) layer.FusedCpu = !Generic;
    }
}

/// <summary>One configuration of <see cref="NormStepBenchmark"/> and its times.</summary>
/// <param name="StepMs">Every timed step's wall time, in milliseconds, in the order run.</param>
/// <param name="RoundMs">The median wall time of each round's steps.</param>
/// <param name="CpuMs">Every timed step's CPU time (all threads of the process), in milliseconds: on a machine
/// shared with other work it counts what the step computed rather than how long it waited for a core.</param>
/// <param name="RoundCpuMs">The median CPU time of each round's steps.</param>
public sealed record NormStepTiming(NormChoice Norm, IReadOnlyList<double> StepMs, IReadOnlyList<double> RoundMs,
    IReadOnlyList<double> CpuMs, IReadOnlyList<double> RoundCpuMs)
{
    /// <summary>Median step wall time in milliseconds.</summary>
    public double MedianMs => BenchCommand.Median(StepMs);

    /// <summary>Median step CPU time in milliseconds.</summary>
    public double MedianCpuMs => BenchCommand.Median(CpuMs);

    /// <summary>Whether this is plain batch norm.</summary>
    public bool IsBatchNorm => Norm.Ghost == 0;
}

/// <summary>Step times of one subject (a model, or one norm layer) at one batch: plain batch norm first, then each ghost size.</summary>
/// <param name="Subject">"cnn w32", or a layer's input shape.</param>
public sealed record NormStepResult(string Subject, int Batch, IReadOnlyList<NormStepTiming> Timings)
{
    /// <summary>The plain batch norm timing.</summary>
    public NormStepTiming BatchNorm => Timings.Single(t => t.IsBatchNorm);

    /// <summary>Median ghost step time over median batch-norm step time.</summary>
    public double Ratio(NormStepTiming ghost) => ghost.MedianMs / BatchNorm.MedianMs;

    /// <summary>The median over rounds of the ghost/batch-norm ratio within each round: less sensitive to the
    /// machine's load drifting between rounds than <see cref="Ratio"/>.</summary>
    public double PairedRatio(NormStepTiming ghost) =>
        BenchCommand.Median(ghost.RoundMs.Zip(BatchNorm.RoundMs, (g, b) => g / b).ToList());

    /// <summary><see cref="PairedRatio"/> of CPU times.</summary>
    public double PairedCpuRatio(NormStepTiming ghost) =>
        BenchCommand.Median(ghost.RoundCpuMs.Zip(BatchNorm.RoundCpuMs, (g, b) => g / b).ToList());
}

/// <summary>
/// Training-step time with ghost batch norm against plain batch norm, same batch, same threads, in one
/// process: of a whole model (forward, backward, SGD step), or of one norm layer alone (forward and
/// backward). The configurations run in interleaved rounds (a few steps of each in turn), so drift and
/// neighbours on a shared machine hit all of them alike; each figure is a median over its timed steps.
/// </summary>
/// <remarks>
/// Model inputs are random Fashion-MNIST-shaped images (1x28x28, 10 classes): the step's cost does not depend on
/// the pixel values, and the benchmark needs no dataset. The convolution path is the one training uses
/// (<see cref="ConvolutionSelfCheck"/>), and the optimizer is the trainer's SGD (momentum 0.9, weight decay 5e-4).
/// </remarks>
public sealed class NormStepBenchmark(int warmup, int rounds, int stepsPerRound)
{
    private static readonly ModelInput FashionMnist = new(1, 28, 28, 10);

    /// <summary>Fires after each round with the round number (1-based) and the figures so far.</summary>
    public event Action<int, NormStepResult>? RoundFinished;

    /// <summary>Training steps of <paramref name="kind"/> at <paramref name="batch"/> with plain batch norm and with each of <paramref name="ghosts"/>.</summary>
    public NormStepResult Measure(ModelKind kind, int width, int batch, IReadOnlyList<NormChoice> ghosts) =>
        Interleave($"{kind.SpecName()} w{width}", batch, ghosts, norm => new ModelStep(norm, kind, width, batch));

    /// <summary>Forward and backward of one norm layer over [<paramref name="batch"/>, C, H, W] activations (<paramref name="sample"/> = C, H, W).</summary>
    public NormStepResult MeasureLayer(long[] sample, int batch, IReadOnlyList<NormChoice> ghosts) =>
        Interleave($"norm {string.Join("x", sample)}", batch, ghosts, norm => new LayerStep(norm, [batch, .. sample]));

    /// <summary>Plain batch norm first, then <paramref name="ghosts"/>, in interleaved rounds.</summary>
    private NormStepResult Interleave(string subject, int batch, IReadOnlyList<NormChoice> ghosts, Func<NormChoice, IStep> create)
    {
        var configs = new List<(NormChoice Norm, IStep Step, List<double> Wall, List<double> WallRounds, List<double> Cpu, List<double> CpuRounds)>();
        try
        {
            foreach (var norm in ghosts.Prepend(new NormChoice(0))) configs.Add((norm, create(norm), [], [], [], []));
            foreach (var config in configs)
                for (int i = 0; i < warmup; i++) config.Step.Run();
            for (int round = 1; round <= rounds; round++)
            {
                foreach (var config in configs)
                {
                    var wall = new List<double>();
                    var cpu = new List<double>();
                    for (int i = 0; i < stepsPerRound; i++)
                    {
                        var (w, c) = Timed(config.Step);
                        wall.Add(w);
                        cpu.Add(c);
                    }
                    config.Wall.AddRange(wall);
                    config.WallRounds.Add(BenchCommand.Median(wall));
                    config.Cpu.AddRange(cpu);
                    config.CpuRounds.Add(BenchCommand.Median(cpu));
                }
                RoundFinished?.Invoke(round, Result());
            }
            return Result();
        }
        finally
        {
            foreach (var config in configs) config.Step.Dispose();
        }

        NormStepResult Result() => new(subject, batch, configs.Select(c =>
            new NormStepTiming(c.Norm, c.Wall.ToList(), c.WallRounds.ToList(), c.Cpu.ToList(), c.CpuRounds.ToList())).ToList());
    }

    /// <summary>Wall and CPU milliseconds of one step.</summary>
    private static (double wall, double cpu) Timed(IStep step)
    {
        var cpu = Environment.CpuUsage.TotalTime;
        var started = Stopwatch.GetTimestamp();
        step.Run();
        return (Stopwatch.GetElapsedTime(started).TotalMilliseconds, (Environment.CpuUsage.TotalTime - cpu).TotalMilliseconds);
    }

    private interface IStep : IDisposable
    {
        void Run();
    }


    private sealed class ModelStep : IStep
    {
        private readonly nn.Module<Tensor, Tensor> model;
        private readonly TorchSharp.Modules.OptimizerHelper optimizer;
        private readonly Tensor x, y;

        public ModelStep(NormChoice norm, ModelKind kind, int width, int batch)
        {
            torch.random.manual_seed(1);
            model = ModelRegistry.Create(new ModelSpec(kind, width, norm.Ghost == 0 ? NormKind.Batch : NormKind.GhostBatch), FashionMnist, norm.Ghost);
            norm.Apply(model);
            ConvolutionSelfCheck.EnsureCorrect(model, CPU);
            model.train();
            optimizer = OptimizerFactory.Create(new OptimizerSpec(OptimizerKind.Sgd, 0.01, 0.9, false, 5e-4), model.parameters());
            using var generator = new Generator(1);
            x = randn([batch, FashionMnist.Channels, FashionMnist.Height, FashionMnist.Width], generator: generator);
            y = randint(FashionMnist.Classes, [batch], generator: generator);
        }

        public void Run()
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(model.forward(x), y);
            loss.backward();
            optimizer.step();
        }

        public void Dispose()
        {
            model.Dispose();
            x.Dispose();
            y.Dispose();
        }
    }

    private sealed class LayerStep : IStep
    {
        private readonly nn.Module<Tensor, Tensor> layer;
        private readonly Tensor x, upstream;
        private readonly Tensor[] inputs;

        public LayerStep(NormChoice norm, long[] shape)
        {
            layer = NormalizationRegistry.Create(norm.Ghost == 0 ? NormKind.Batch : NormKind.GhostBatch, norm.Ghost).Norm2d(shape[1]);
            norm.Apply(layer);
            layer.train();
            using var generator = new Generator(1);
            x = randn(shape, generator: generator).requires_grad_(); // as a convolution's output
            upstream = randn(shape, generator: generator);
            inputs = [x, .. layer.parameters()];
        }

        public void Run()
        {
            using var scope = NewDisposeScope();
            var output = layer.forward(x);
            torch.autograd.grad([output], inputs, [upstream]);
        }

        public void Dispose()
        {
            layer.Dispose();
            x.Dispose();
            upstream.Dispose();
        }
    }
}
