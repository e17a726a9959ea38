using Orchestrator.Spec;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Normalization;
using Orchestrator.Trainer.Telemetry;
using Orchestrator.Trainer.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Tests.Training;

/// <summary>
/// An epoch whose last batch would have one row (257 samples at batch 128): with batch statistics that row
/// made BatchNorm's running variance NaN and the run died writing the evaluation. And a diverging run stops
/// with a message, not a stack trace.
/// </summary>
[Collection(SeededConstructionCollection.Name)]
public sealed class SmallLastBatchTrainingTests
{
    private static JobSpec Spec(string norm, int trainSamples = 257, int ghost = 0)
    {
        var spec = TestSpecs.Synthetic(epochs: 1, batch: 128, kind: ModelKind.Mlp, width: 4, norm: Named.Norm(norm));
        return spec with { Data = spec.Data with { TrainSubset = trainSamples }, Training = spec.Training with { GhostBatch = ghost } };
    }

    private static (RunSummary Summary, RecordingObserver Observer) Train(JobSpec spec, string directory, Action<nn.Module<Tensor, Tensor>>? inspect = null)
    {
        torch.set_num_threads(1);
        var observer = new RecordingObserver();
        using var run = new TrainingRun(spec, DatasetRegistry.Load(spec.Data, spec.Training.Seed),
            new TrainingOptions(torch.CPU, RunDirectory.Open(directory), new SingleProcessSynchronizer(), observer));
        var summary = run.Run();
        inspect?.Invoke(run.Model);
        return (summary, observer);
    }

    [Theory]
    [InlineData("batch", 0)]
    [InlineData("ghost_batch", 32)]
    public void A_one_row_remainder_trains_with_the_previous_step_and_evaluation_stays_finite(string norm, int ghost)
    {
        using var directory = new TempDirectory();
        var (summary, observer) = Train(Spec(norm, ghost: ghost), directory.Path, model =>
        {
            var running = model.named_buffers().Where(b => b.name.EndsWith("running_var", StringComparison.Ordinal)).ToList();
            Assert.Equal(2, running.Count);
            Assert.All(running, b => Assert.True(isfinite(b.buffer).all().item<bool>(), $"{b.name} is not finite"));
        });

        Assert.Equal([128, 129], observer.Steps.Select(s => s.Samples));
        Assert.Equal(2, summary.Steps);
        Assert.True(double.IsFinite(summary.TestLoss), $"test loss {summary.TestLoss}");
        Assert.Empty(observer.Notices);
        var (steps, evaluations) = MetricsLog.Read(Path.Combine(directory.Path, "metrics.jsonl"));
        Assert.Equal(2, steps.Count);
        Assert.Equal(summary.TestLoss, Assert.Single(evaluations).TestLoss);
    }

    [Fact]
    public void Without_batch_statistics_the_one_row_step_is_kept()
    {
        using var directory = new TempDirectory();
        var (summary, observer) = Train(Spec("none"), directory.Path);
        Assert.Equal([128, 128, 1], observer.Steps.Select(s => s.Samples));
        Assert.Equal(3, summary.Steps);
    }

    [Fact]
    public void The_model_reports_whether_it_needs_two_rows_per_worker()
    {
        var input = new Trainer.Models.ModelInput(1, 8, 8, 3);
        using var batch = Trainer.Models.ModelRegistry.Create(new ModelSpec(ModelKind.Cnn, 2, NormKind.Batch), input);
        using var ghost = Trainer.Models.ModelRegistry.Create(new ModelSpec(ModelKind.Mlp, 2, NormKind.GhostBatch), input, ghostBatch: 4);
        using var none = Trainer.Models.ModelRegistry.Create(new ModelSpec(ModelKind.Mlp, 2, NormKind.None), input);
        Assert.Equal(2, BatchStatistics.MinimumRowsPerWorker(batch));
        Assert.Equal(2, BatchStatistics.MinimumRowsPerWorker(ghost));
        Assert.Equal(0, BatchStatistics.MinimumRowsPerWorker(none));
    }

    [Fact]
    public void A_dataset_smaller_than_one_step_with_batch_statistics_is_a_user_error()
    {
        using var directory = new TempDirectory();
        var error = Assert.Throws<UserFacingException>(() => Train(Spec("batch", trainSamples: 1), directory.Path));
        Assert.Contains("data.train_subset", error.Message);
    }

    [Fact]
    public void A_diverging_run_stops_with_a_message_naming_the_step_and_what_to_change()
    {
        using var directory = new TempDirectory();
        var spec = Spec("none", trainSamples: 512);
        spec = spec with { Training = spec.Training with { Optimizer = new OptimizerSpec(OptimizerKind.Sgd, 1e30, 0.9, false, 0) } };
        var error = Assert.Throws<UserFacingException>(() => Train(spec, directory.Path));
        Assert.Contains("training diverged at step", error.Message);
        Assert.Contains("training.regime.grad_clip_norm", error.Message);
        // What was trained before is on disk and readable, the non-finite loss included.
        var (steps, _) = MetricsLog.Read(Path.Combine(directory.Path, "metrics.jsonl"));
        Assert.Contains(steps, s => !double.IsFinite(s.Loss));
    }
}
