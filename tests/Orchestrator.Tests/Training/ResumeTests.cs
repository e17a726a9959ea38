using Orchestrator.Spec;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Telemetry;
using Orchestrator.Trainer.Training;
using TorchSharp;

namespace Orchestrator.Tests.Training;

/// <summary>Checkpoint/resume gives exactly the run that was never interrupted.</summary>
[Collection(SeededConstructionCollection.Name)]
public sealed class ResumeTests
{
    private static RunSummary Train(JobSpec spec, string directory, RecordingObserver observer, long? stopAfter = null)
    {
        torch.set_num_threads(1);
        var data = DatasetRegistry.Load(spec.Data, spec.Training.Seed);
        using var run = new TrainingRun(spec, data, new TrainingOptions(torch.CPU, RunDirectory.Open(directory), new SingleProcessSynchronizer(), observer, stopAfter));
        return run.Run();
    }

    [Fact]
    public void Resume_after_a_kill_reproduces_the_uninterrupted_loss_sequence_bit_for_bit()
    {
        var spec = TestSpecs.Synthetic(epochs: 2, batch: 64, everySteps: 5);
        using var full = new TempDirectory();
        using var interrupted = new TempDirectory();

        var reference = new RecordingObserver();
        Train(spec, full.Path, reference);

        // Killed after step 11 (mid-epoch 2): the newest checkpoint is step 10, so steps 11.. are redone.
        var first = new RecordingObserver();
        Train(spec, interrupted.Path, first, stopAfter: 11);
        var second = new RecordingObserver();
        var summary = Train(spec, interrupted.Path, second);

        Assert.Equal(10, summary.ResumedFromStep);
        Assert.Equal(16, reference.Steps.Count);
        Assert.Equal(reference.Steps.Skip(10).Select(s => s.Loss), second.Steps.Select(s => s.Loss));
        Assert.Equal(reference.Evaluations.Last().TestLoss, second.Evaluations.Last().TestLoss);

        // The log of the resumed run holds each step exactly once, with the reference's values.
        var (steps, evaluations) = MetricsLog.Read(Path.Combine(interrupted.Path, "metrics.jsonl"));
        Assert.Equal(Enumerable.Range(1, 16).Select(i => (long)i), steps.Select(s => s.Step));
        Assert.Equal(reference.Steps.Select(s => s.Loss), steps.Select(s => s.Loss));
        Assert.Equal(2, evaluations.Count);
    }

    [Fact]
    public void A_corrupted_newest_checkpoint_falls_back_to_the_previous_valid_one_and_says_so()
    {
        var spec = TestSpecs.Synthetic(epochs: 1, batch: 64, everySteps: 3);
        using var reference = new TempDirectory();
        using var dir = new TempDirectory();
        var expected = new RecordingObserver();
        Train(spec, reference.Path, expected);

        Train(spec, dir.Path, new RecordingObserver(), stopAfter: 7);
        var newest = Directory.GetFiles(Path.Combine(dir.Path, "checkpoints")).Max()!;
        Assert.EndsWith("ckpt-0000000006.bin", newest);
        var bytes = File.ReadAllBytes(newest);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(newest, bytes);

        var resumed = new RecordingObserver();
        var summary = Train(spec, dir.Path, resumed);

        Assert.Equal(3, summary.ResumedFromStep);
        Assert.Contains(resumed.Notices, n => n.Contains("ckpt-0000000006.bin") && n.Contains("checksum"));
        Assert.Equal(expected.Steps.Skip(3).Select(s => s.Loss), resumed.Steps.Select(s => s.Loss));
    }

    [Fact]
    public void Only_corrupt_checkpoints_is_a_user_error_not_a_silent_restart()
    {
        var spec = TestSpecs.Synthetic(epochs: 1, batch: 64, everySteps: 4);
        using var dir = new TempDirectory();
        Train(spec, dir.Path, new RecordingObserver(), stopAfter: 5);
        foreach (var file in Directory.GetFiles(Path.Combine(dir.Path, "checkpoints")))
            File.WriteAllBytes(file, File.ReadAllBytes(file)[..100]);

        var error = Assert.Throws<UserFacingException>(() => Train(spec, dir.Path, new RecordingObserver()));
        Assert.Contains("none of the 1 checkpoints is valid", error.Message);
    }

    [Fact]
    public void A_checkpoint_of_another_model_is_refused()
    {
        using var dir = new TempDirectory();
        Train(TestSpecs.Synthetic(epochs: 1, everySteps: 2), dir.Path, new RecordingObserver(), stopAfter: 3);
        var error = Assert.Throws<UserFacingException>(() => Train(TestSpecs.Synthetic(epochs: 1, width: 8), dir.Path, new RecordingObserver()));
        Assert.Contains("written for model cnn/w4", error.Message);
    }
}
