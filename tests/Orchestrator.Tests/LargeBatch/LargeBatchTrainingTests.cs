using Orchestrator.Spec;
using Orchestrator.Tests.Training;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Telemetry;
using Orchestrator.Trainer.Training;
using TorchSharp;

namespace Orchestrator.Tests.LargeBatch;

/// <summary>The large-batch options inside the real training loop, checked from its records.</summary>
[Collection(SeededConstructionCollection.Name)]
public sealed class LargeBatchTrainingTests
{
    private static (RunSummary Summary, RecordingObserver Observer, TrainingRun Run) Train(JobSpec spec, long? stopAfter = null)
    {
        torch.set_num_threads(1);
        var observer = new RecordingObserver();
        var run = new TrainingRun(spec, DatasetRegistry.Load(spec.Data, spec.Training.Seed),
            new TrainingOptions(torch.CPU, null, new SingleProcessSynchronizer(), observer, stopAfter));
        return (run.Run(), observer, run);
    }

    private static JobSpec WithTraining(JobSpec spec, Func<TrainingSpec, TrainingSpec> change) => spec with { Training = change(spec.Training) };

    [Fact]
    public void Every_step_records_the_regime_lr_and_momentum_and_epochs_are_adapted()
    {
        var regime = new RegimeSpec(LrScalingKind.Sqrt, 16, AdaptUpdates: true, WarmupEpochs: 0.5, GradClipNorm: 0,
            [new RegimePhase(0, Lr: 0.02, Momentum: 0.8), new RegimePhase(0.5, Lr: 0.01, Schedule: ScheduleKind.Cosine)]);
        var spec = WithTraining(TestSpecs.Synthetic(epochs: 1, batch: 64), t => t with { Regime = regime });
        var (summary, observer, run) = Train(spec);
        using (run)
        {
            Assert.Equal(4, run.Regime.TotalEpochs);           // ceil(64/16) = 4 x 1 epoch
            Assert.Equal(32, summary.Steps);                   // 512 samples / 64 = 8 steps per epoch
            Assert.Equal(4, observer.Evaluations.Count);
            for (int t = 0; t < observer.Steps.Count; t++)
            {
                var expected = run.Regime.At(t);
                Assert.Equal(expected.Lr, observer.Steps[t].Lr, 12);
                Assert.Equal(expected.Momentum, observer.Steps[t].Momentum, 12);
            }
            Assert.Equal(0.02 * 2 / 4, observer.Steps[0].Lr, 12);           // sqrt(64/16) = 2, warm-up 1/4
            Assert.Equal(0.04, observer.Steps[5].Lr, 12);                   // warm-up over
            Assert.Equal(0.04, observer.Steps[15].Lr, 12);
            Assert.Equal(0.02, observer.Steps[16].Lr, 12);                  // phase 2 at adapted epoch 0.5 x 4 = 2 = step 16
            Assert.Equal(0.8, observer.Steps[31].Momentum, 12);             // kept from phase 1
            Assert.True(observer.Steps[31].Lr < 0.001);                     // cosine towards 0
        }
    }

    [Fact]
    public void Gradient_clipping_bounds_the_size_of_the_update()
    {
        // One plain SGD step (no momentum, no decay) moves the parameters by lr x clipped gradient.
        JobSpec Spec(double clip) => WithTraining(TestSpecs.Synthetic(epochs: 1, batch: 64),
            t => t with { Optimizer = new OptimizerSpec(OptimizerKind.Sgd, 1.0, 0, false, 0), Regime = new RegimeSpec(LrScalingKind.None, 64, false, 0, clip, [new RegimePhase(0)]) });
        double UpdateNorm(double clip)
        {
            var spec = Spec(clip);
            using var run = new TrainingRun(spec, DatasetRegistry.Load(spec.Data, spec.Training.Seed),
                new TrainingOptions(torch.CPU, null, new SingleProcessSynchronizer(), new RecordingObserver()));
            var before = run.Model.parameters().Select(p => p.detach().clone()).ToList();
            run.TrainStep(new Trainer.Checkpointing.TrainingPosition(0, 0, 0));
            var deltas = run.Model.parameters().Zip(before, (p, b) => (p.detach() - b).pow(2).sum().item<float>());
            return Math.Sqrt(deltas.Sum());
        }

        Assert.InRange(UpdateNorm(0.01), 0.0099, 0.01 + 1e-6);
        Assert.True(UpdateNorm(0) > 0.05, "without clipping the same step is much larger");
    }

    [Fact]
    public void Batch_augmentation_keeps_the_steps_per_epoch_and_trains()
    {
        var spec = WithTraining(TestSpecs.Synthetic(epochs: 1, batch: 64), t => t with { BatchAugmentation = 3 });
        var (summary, observer, run) = Train(spec);
        using (run)
        {
            Assert.Equal(8, summary.Steps);
            Assert.All(observer.Steps, s => Assert.Equal(64, s.Samples));
            Assert.True(double.IsFinite(summary.TestLoss));
        }
    }

    [Theory]
    [InlineData("B+")]
    [InlineData("D+")]
    public void Mixed_size_training_runs_every_size_and_evaluates_at_the_native_size(string mode)
    {
        var spec = TestSpecs.Synthetic(epochs: 1, batch: 64, kind: ModelKind.ResNet20, width: 4);
        spec = WithTraining(spec, t => t with { BatchAugmentation = 2, MixedSize = new MixedSizeSpec(Named.Mode(mode), [8, 12, 16], [0.25, 0.5, 0.25]) });
        var (summary, observer, run) = Train(spec);
        using (run)
        {
            Assert.Equal(512, observer.Steps.Sum(s => s.Samples));   // every sample once per epoch
            Assert.True(double.IsFinite(summary.TestAccuracy) && summary.TestAccuracy > 0);
            if (mode == "B+") Assert.Contains(observer.Steps, s => s.Samples > 64); // small images, bigger batches
            else Assert.All(observer.Steps.Take(observer.Steps.Count - 3), s => Assert.True(s.Samples == 64 || s.Samples < 64));
        }
    }
}
