using System.Diagnostics;
using Orchestrator.Spec;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Telemetry;
using Orchestrator.Trainer.Training;
using static TorchSharp.torch;

namespace Orchestrator.Bench.Drivers;

/// <summary>The knobs of the large-batch reproduction; defaults fit the 2-core machine.</summary>
public sealed record LadderSettings(
    string Root,
    int TrainSubset,
    int Epochs,
    int SmallBatch,
    int LargeBatch,
    int Width,
    double Lr,
    int Copies,
    IReadOnlyList<long> Seeds);

/// <summary>One rung of the ladder: how it changes the baseline, and the paper's CIFAR-10 figure.</summary>
public sealed record LadderRow(int Number, string Name, string PaperResult, Func<JobSpec, JobSpec> Apply);

/// <summary>What one run of one rung gave.</summary>
public sealed record LadderRun(int Row, long Seed, double TestAccuracy, long Updates, double WallSeconds, IReadOnlyList<EvalRecord> Curve);

/// <summary>
/// "Train longer, generalize better" and "Augment your batch" at small scale on Fashion-MNIST
/// (ALGORITHMS.md sections 1 and 3): small-batch baseline; large batch with the same epochs; + sqrt
/// lr scaling; + ghost batch norm; + regime adaptation; and batch augmentation at the small batch.
/// </summary>
public sealed class LargeBatchLadder(LadderSettings settings)
{
    /// <summary>The baseline every rung starts from: small CNN, crop+flip, step regime (x0.1 at 2/3),
    /// gradient clipping at 5 (the reference code's default).</summary>
    public JobSpec Baseline(long seed) => new(
        "large-batch-ladder", DeviceKind.Cpu, new ModelSpec(ModelKind.Cnn, settings.Width, NormKind.Batch),
        new DataSpec(DatasetKind.FashionMnist, settings.Root, settings.TrainSubset, 0, new AugmentSpec(2, true, 0)),
        new TrainingSpec(settings.Epochs, settings.SmallBatch, new OptimizerSpec(OptimizerKind.Sgd, settings.Lr, 0.9, false, 5e-4), seed, 0,
            Regime: new RegimeSpec(LrScalingKind.None, settings.SmallBatch, false, 0, GradClipNorm: 5.0,
                [new RegimePhase(0, Lr: settings.Lr), new RegimePhase(Math.Round(settings.Epochs * 2 / 3.0, 3), Lr: settings.Lr / 10)])),
        new CheckpointSpec(0, 1));

    public IReadOnlyList<LadderRow> Rows { get; } =
    [
        new(1, $"small batch {settings.SmallBatch}", "92.83%", s => s),
        new(2, $"batch {settings.LargeBatch}, same epochs", "86.10%", s => Large(s, settings)),
        new(3, "+ sqrt lr scaling", "89.30%", s => Scaled(Large(s, settings))),
        new(4, $"+ ghost BN ({settings.SmallBatch})", "90.50%", s => Ghost(Scaled(Large(s, settings)), settings)),
        new(5, "+ regime adaptation", "93.07%", s => Adapted(Ghost(Scaled(Large(s, settings)), settings))),
        new(6, $"batch augmentation M={settings.Copies}, batch {settings.SmallBatch}", "fewer updates, same accuracy",
            s => s with { Training = s.Training with { BatchAugmentation = settings.Copies } }),
    ];

    /// <summary>Trains one rung with one seed on <paramref name="data"/> (shared, not copied).</summary>
    public LadderRun Run(LadderRow row, long seed, DatasetSplits data, int evaluateEverySteps)
    {
        var spec = row.Apply(Baseline(seed));
        var errors = JobSpecValidator.Validate(spec);
        if (errors.Count > 0) throw new SpecException($"ladder row {row.Number}", errors);
        var curve = new CurveObserver();
        var clock = Stopwatch.StartNew();
        using var run = new TrainingRun(spec, data, new TrainingOptions(CPU, null, new SingleProcessSynchronizer(), curve, Resume: false,
            EvaluateEverySteps: evaluateEverySteps));
        var summary = run.Run();
        return new LadderRun(row.Number, seed, summary.TestAccuracy, summary.Steps, clock.Elapsed.TotalSeconds, curve.Evaluations);
    }

    /// <summary>The first evaluated update count at which a curve reaches <paramref name="accuracy"/>; null when it never does.</summary>
    public static long? UpdatesToReach(IReadOnlyList<EvalRecord> curve, double accuracy) =>
        curve.FirstOrDefault(e => e.TestAccuracy >= accuracy)?.Step;

    private static JobSpec Large(JobSpec s, LadderSettings settings) => s with { Training = s.Training with { GlobalBatch = settings.LargeBatch } };

    private static JobSpec Scaled(JobSpec s) => s with { Training = s.Training with { Regime = s.Training.Regime! with { LrScaling = LrScalingKind.Sqrt } } };

    private static JobSpec Ghost(JobSpec s, LadderSettings settings) =>
        s with { Model = s.Model with { Norm = NormKind.GhostBatch }, Training = s.Training with { GhostBatch = settings.SmallBatch } };

    private static JobSpec Adapted(JobSpec s) => s with { Training = s.Training with { Regime = s.Training.Regime! with { AdaptUpdates = true } } };

    private sealed class CurveObserver : ITrainingObserver
    {
        public List<EvalRecord> Evaluations { get; } = [];
        public void OnStart(TrainingPlan plan) { }
        public void OnStep(StepRecord step) { }
        public void OnEvaluation(EvalRecord evaluation) => Evaluations.Add(evaluation);
        public void OnNotice(string message) { }
    }
}
