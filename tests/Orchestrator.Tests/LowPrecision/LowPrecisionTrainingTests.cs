using System.Text.Json;
using Orchestrator.Spec;
using Orchestrator.Tests.Training;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.LowPrecision;
using Orchestrator.Trainer.Models;
using Orchestrator.Trainer.Sparsity;
using Orchestrator.Trainer.Telemetry;
using Orchestrator.Trainer.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Tests.LowPrecision;

/// <summary>
/// Low-precision and sparse training in the real step loop (issue 15 items 1, 3, 4, 5): masks valid while training and
/// checkable from a checkpoint, a bit-exact resume with every feature on, mask mismatches refused, figures reported.
/// </summary>
[Collection(SeededConstructionCollection.Name)]
public sealed class LowPrecisionTrainingTests
{
    private static readonly WeightSparsitySpec Transposable24 = new(2, 4, true, MaskMethod.Greedy, 3);

    private static JobSpec Spec(WeightSparsitySpec? masks = null, QuantizeSpec? quantize = null, GradientSparsitySpec? gradients = null,
        int epochs = 2, int everySteps = 5)
    {
        var spec = TestSpecs.Synthetic(epochs: epochs, batch: 64, everySteps: everySteps);
        return spec with
        {
            Model = spec.Model with { WeightSparsity = masks },
            Training = spec.Training with { Quantize = quantize, GradientSparsity = gradients },
        };
    }

    private static JobSpec Everything(int epochs = 2, GradientGemms gemms = GradientGemms.Both, bool denseFirstLast = false) =>
        Spec(Transposable24, new QuantizeSpec(8, 8, 8), new GradientSparsitySpec(1, 2, PrunerKind.Mvue, denseFirstLast, gemms), epochs);

    private static RunSummary Train(JobSpec spec, string directory, RecordingObserver observer, long? stopAfter = null)
    {
        torch.set_num_threads(1);
        var data = DatasetRegistry.Load(spec.Data, spec.Training.Seed);
        using var run = new TrainingRun(spec, data, new TrainingOptions(torch.CPU, RunDirectory.Open(directory), new SingleProcessSynchronizer(), observer, stopAfter));
        return run.Run();
    }

    [Theory]
    [InlineData(GradientGemms.Both, false)]
    [InlineData(GradientGemms.WeightGradient, true)]
    public void Resume_with_masks_quantization_and_gradient_pruning_reproduces_the_uninterrupted_run_bit_for_bit(GradientGemms gemms, bool denseFirstLast)
    {
        var spec = Everything(gemms: gemms, denseFirstLast: denseFirstLast);
        using var full = new TempDirectory();
        using var interrupted = new TempDirectory();
        var reference = new RecordingObserver();
        Train(spec, full.Path, reference);

        // Stopped after step 11: the newest checkpoint is step 10, between two mask recomputations (every 3 steps), so
        // the masks and the running activation ranges must come from the checkpoint.
        Train(spec, interrupted.Path, new RecordingObserver(), stopAfter: 11);
        var resumed = new RecordingObserver();
        var summary = Train(spec, interrupted.Path, resumed);

        Assert.Equal(10, summary.ResumedFromStep);
        Assert.Equal(16, reference.Steps.Count);
        Assert.True(reference.Steps.All(s => double.IsFinite(s.Loss)));
        Assert.Equal(reference.Steps.Skip(10).Select(s => s.Loss), resumed.Steps.Select(s => s.Loss));
        Assert.Equal(reference.Evaluations.Last().TestLoss, resumed.Evaluations.Last().TestLoss);
        // The loss moved: the run trained (guards against a path that silently zeroes every gradient).
        Assert.True(reference.Steps[^1].Loss < reference.Steps[0].Loss, $"loss {reference.Steps[0].Loss} -> {reference.Steps[^1].Loss}");
    }

    [Fact]
    public void Masks_stay_valid_while_training_and_the_final_sparsity_is_checkable_from_the_checkpoint()
    {
        var spec = Spec(Transposable24, epochs: 1);
        using var dir = new TempDirectory();
        var observer = new RecordingObserver();
        var summary = Train(spec, dir.Path, observer);

        // Every step reports the masked layers' density: 2 of 4 per row and column of each block.
        Assert.All(observer.Steps, s => Assert.Equal(0.5, s.LowPrecision!.MaskDensity!.Value, 12));
        Assert.Contains(observer.Steps, s => s.LowPrecision!.MaskSeconds > 0);
        var report = summary.LowPrecision!;
        Assert.Equal(0.5, report.MaskDensity!.Value, 12);
        Assert.True(report.MaskedLayers >= 2, $"{report.MaskedLayers} masked layers");
        Assert.True(report.MaskRecomputations >= 3);

        // From the last checkpoint alone: a fresh model loads it, and every mask is a valid transposable 2:4 mask of its
        // layer; the weights the forward uses (masked) are exactly N:M.
        var checkpoint = new Trainer.Checkpointing.CheckpointStore(Path.Combine(dir.Path, "checkpoints"), 10).LoadNewestValid(_ => { })!;
        var lowPrecision = new LowPrecisionTraining(null, null, Transposable24, 7, 0);
        var data = DatasetRegistry.Load(spec.Data, 7);
        using var model = ModelRegistry.Create(spec.Model, new ModelInput(data.Train.Channels, data.Train.Height, data.Train.Width, data.Train.Classes), 0, lowPrecision.LayerFactory);
        using (var stream = new MemoryStream(checkpoint.ModelState)) model.load(stream);
        int masked = 0;
        foreach (var layer in lowPrecision.Layers)
        {
            if (layer.Mask is not { } mask) continue;
            masked++;
            var (rows, cols) = WeightMask.Matrix(layer.Weight.shape);
            var kept = mask.reshape(rows, cols).data<float>().Select(v => v != 0).ToArray();
            Assert.True(MaskChecks.IsValidTransposable(kept, (int)rows, (int)cols, 2, 4));
            using var effective = layer.EffectiveWeight().detach();
            var nonZero = effective.reshape(rows, cols).data<float>().Select(v => v != 0).ToArray();
            Assert.All(nonZero.Zip(kept), p => Assert.True(!p.First || p.Second, "a pruned weight is non-zero in the forward"));
        }
        Assert.Equal(report.MaskedLayers, masked);

        var written = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.Path, "summary.json"))).RootElement.GetProperty("low_precision");
        Assert.Equal(0.5, written.GetProperty("mask_density").GetDouble(), 12);
        Assert.Equal("2:4 transposable greedy", written.GetProperty("weight_sparsity").GetString());
    }

    [Fact]
    public void A_checkpoint_trained_with_masks_is_refused_without_them_and_the_reverse()
    {
        using var masked = new TempDirectory();
        Train(Spec(Transposable24, epochs: 1), masked.Path, new RecordingObserver(), stopAfter: 6);
        var error = Assert.Throws<UserFacingException>(() => Train(Spec(epochs: 1), masked.Path, new RecordingObserver()));
        Assert.Contains("trained with N:M weight masks", error.Message);
        Assert.Contains("model.weight_sparsity", error.Message);

        using var dense = new TempDirectory();
        Train(Spec(epochs: 1), dense.Path, new RecordingObserver(), stopAfter: 6);
        var reverse = Assert.Throws<UserFacingException>(() => Train(Spec(Transposable24, epochs: 1), dense.Path, new RecordingObserver()));
        Assert.Contains("trained without weight masks", reverse.Message);
    }

    [Fact]
    public void Masks_whose_pattern_tiles_no_layer_are_a_user_error_naming_the_field()
    {
        // Width 4: no weight has both dimensions a multiple of 16.
        var spec = Spec(new WeightSparsitySpec(2, 16, true, MaskMethod.Greedy, 40), epochs: 1);
        using var dir = new TempDirectory();
        var error = Assert.Throws<UserFacingException>(() => Train(spec, dir.Path, new RecordingObserver()));
        Assert.StartsWith("model.weight_sparsity: no conv or linear weight of model cnn", error.Message);
    }

    [Fact]
    public void Steps_report_bits_and_the_measured_gradient_sparsity()
    {
        var spec = Spec(null, new QuantizeSpec(8, null, 6), new GradientSparsitySpec(1, 2, PrunerKind.Mvue), epochs: 1);
        using var dir = new TempDirectory();
        var observer = new RecordingObserver();
        var summary = Train(spec, dir.Path, observer, stopAfter: 3);
        var first = observer.Steps[0].LowPrecision!;
        Assert.Equal((8, 32, 6), (first.WeightBits, first.ActivationBits, first.GradientBits));
        // 1:2 keeps at most one of two: at least half of every pruned gradient is zero.
        Assert.All(observer.Steps, s => Assert.InRange(s.LowPrecision!.GradientSparsity!.Value, 0.5, 1.0));
        Assert.Null(first.MaskDensity);
        var line = File.ReadLines(Path.Combine(dir.Path, "metrics.jsonl")).First();
        Assert.Contains("\"low_precision\":{\"weight_bits\":8,", line);
        Assert.InRange(summary.LowPrecision!.MeasuredGradientSparsity!.Value, 0.5, 1.0);
    }
}
