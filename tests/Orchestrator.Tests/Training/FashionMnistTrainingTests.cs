using Orchestrator.Spec;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Training;
using TorchSharp;

namespace Orchestrator.Tests.Training;

/// <summary>A short training on the real Fashion-MNIST files (Debian package dataset-fashion-mnist).</summary>
[Collection(SeededConstructionCollection.Name)]
public sealed class FashionMnistTrainingTests
{
    [Fact]
    public void Loss_falls_and_the_model_beats_chance_on_the_test_split()
    {
        var spec = new JobSpec("fmnist-smoke", DeviceKind.Cpu, new ModelSpec(ModelKind.Cnn, 8, NormKind.Batch),
            new DataSpec(DatasetKind.FashionMnist, MnistIdxDataset.FashionMnistDefaultRoot, 3072, 1000, new AugmentSpec(0, false, 0)),
            new TrainingSpec(1, 128, new OptimizerSpec(OptimizerKind.Sgd, 0.05, 0.9, false, 5e-4), 1, 2),
            new CheckpointSpec(0, 1));
        torch.set_num_threads(2);
        var observer = new RecordingObserver();
        using var run = new TrainingRun(spec, DatasetRegistry.Load(spec.Data, spec.Training.Seed),
            new TrainingOptions(torch.CPU, null, new SingleProcessSynchronizer(), observer));
        var summary = run.Run();

        Assert.Equal(24, observer.Steps.Count);
        double early = observer.Steps.Take(4).Average(s => s.Loss);
        double late = observer.Steps.TakeLast(4).Average(s => s.Loss);
        Assert.True(late < 0.6 * early, $"loss fell only from {early:F3} to {late:F3}");
        Assert.True(summary.TestAccuracy > 0.6, $"test accuracy {summary.TestAccuracy:P1} after one small epoch");
    }
}
