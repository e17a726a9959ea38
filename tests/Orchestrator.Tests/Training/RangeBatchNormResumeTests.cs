using Orchestrator.Spec;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Telemetry;
using Orchestrator.Trainer.Training;
using TorchSharp;

namespace Orchestrator.Tests.Training;

/// <summary>Range batch norm's running statistics travel in checkpoints: a resumed run is the uninterrupted one, bit for bit.</summary>
[Collection(SeededConstructionCollection.Name)]
public sealed class RangeBatchNormResumeTests
{
    private static RunSummary Train(JobSpec spec, string directory, RecordingObserver observer, long? stopAfter = null)
    {
        torch.set_num_threads(1);
        var data = DatasetRegistry.Load(spec.Data, spec.Training.Seed);
        using var run = new TrainingRun(spec, data, new TrainingOptions(torch.CPU, RunDirectory.Open(directory), new SingleProcessSynchronizer(), observer, stopAfter));
        return run.Run();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(16)]
    public void Resume_reproduces_the_uninterrupted_losses_and_test_loss_bit_for_bit(int ghost)
    {
        var plain = TestSpecs.Synthetic(epochs: 2, batch: 64, everySteps: 5, norm: NormKind.RangeBatch);
        var spec = plain with { Training = plain.Training with { GhostBatch = ghost } };
        using var full = new TempDirectory();
        using var interrupted = new TempDirectory();

        var reference = new RecordingObserver();
        Train(spec, full.Path, reference);
        Train(spec, interrupted.Path, new RecordingObserver(), stopAfter: 7);
        var resumed = new RecordingObserver();
        var summary = Train(spec, interrupted.Path, resumed);

        Assert.Equal(5, summary.ResumedFromStep);
        Assert.Equal(16, reference.Steps.Count);
        Assert.Equal(reference.Steps.Skip(5).Select(s => s.Loss), resumed.Steps.Select(s => s.Loss));
        // The test loss is computed with the running statistics: equal only if they were restored exactly.
        Assert.Equal(reference.Evaluations.Select(e => e.TestLoss), resumed.Evaluations.Select(e => e.TestLoss));
        Assert.True(double.IsFinite(reference.Evaluations.Last().TestLoss));
    }
}
