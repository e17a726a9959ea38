using Orchestrator.Spec;
using Orchestrator.Trainer.Models;

namespace Orchestrator.Tests.Spec;

/// <summary>The spec-level memory estimate: parameter counts match the trainer's models; the rest scales as it should.</summary>
public class MemoryEstimateTests
{
    [Theory]
    [InlineData("mlp", "batch", "linear", "fashion-mnist", 4)]
    [InlineData("mlp", "none", "hadamard", "cifar10", 3)]
    [InlineData("cnn", "batch", "linear", "fashion-mnist", 32)]
    [InlineData("cnn", "none", "linear", "cifar10", 5)]
    [InlineData("cnn", "ghost_batch", "hadamard", "synthetic", 8)]
    [InlineData("resnet20", "batch", "linear", "cifar10", 16)]
    [InlineData("resnet20", "none", "hadamard", "fashion-mnist", 4)]
    [InlineData("resnet44", "ghost_batch", "linear", "synthetic", 6)]
    public void Parameter_count_matches_the_trainers_model(string kind, string norm, string classifier, string dataset, int width)
    {
        var model = new ModelSpec(Named.Model(kind), width, Named.Norm(norm), Named.Classifier(classifier));
        var shape = DatasetShape.Of(Named.Dataset(dataset));

        using var built = ModelRegistry.Create(model, new ModelInput(shape.Channels, shape.Side, shape.Side, shape.Classes),
            ghostBatch: model.Norm == NormKind.GhostBatch ? 4 : 0);

        Assert.Equal(built.parameters().Sum(p => p.numel()), (long)MemoryEstimate.CountParameters(model, shape).Parameters);
    }

    private static JobSpec Spec(int globalBatch = 256, int workers = 1, int copies = 1, int width = 32) =>
        SpecTestHelpers.Full with
        {
            Workers = workers,
            Model = new ModelSpec(ModelKind.ResNet20, width, NormKind.Batch),
            Training = SpecTestHelpers.Full.Training with { GlobalBatch = globalBatch, BatchAugmentation = copies },
        };

    [Fact]
    public void Activations_scale_with_the_rows_per_worker()
    {
        var one = MemoryEstimate.Of(Spec(globalBatch: 256));
        var twice = MemoryEstimate.Of(Spec(globalBatch: 512));
        var copies = MemoryEstimate.Of(Spec(globalBatch: 256, copies: 2));
        var split = MemoryEstimate.Of(Spec(globalBatch: 512, workers: 2));

        Assert.Equal(256, one.RowsPerWorker);
        Assert.Equal(512, copies.RowsPerWorker);
        Assert.Equal(256, split.RowsPerWorker);
        Assert.Equal(2 * one.ActivationBytes, twice.ActivationBytes, tolerance: 2);
        Assert.Equal(twice.ActivationBytes, copies.ActivationBytes);
        Assert.Equal(one.ActivationBytes, split.ActivationBytes);
        // The second worker adds the flat gradient buckets of the allreduce.
        Assert.Equal(one.OptimizerBytes + 4 * one.Parameters, split.OptimizerBytes);
    }

    [Fact]
    public void Error_feedback_with_overlap_keeps_a_second_copy_of_the_residuals()
    {
        var compression = CompressionSpec.Default with { Codec = CodecKind.Int8, Algorithm = AllreduceKind.Ring, ErrorFeedback = true };
        var after = MemoryEstimate.Of(Spec(globalBatch: 512, workers: 2) with { Compression = compression with { Overlap = false } });
        var during = MemoryEstimate.Of(Spec(globalBatch: 512, workers: 2) with { Compression = compression });
        var alone = MemoryEstimate.Of(Spec(globalBatch: 512, workers: 1) with { Compression = compression });
        Assert.Equal(after.OptimizerBytes + 4 * after.Parameters, during.OptimizerBytes);
        Assert.Equal(during.OptimizerBytes - 8 * during.Parameters, alone.OptimizerBytes); // one worker: no buckets, no overlap
    }

    [Fact]
    public void Model_memory_grows_with_the_square_of_the_width()
    {
        var narrow = MemoryEstimate.Of(Spec(width: 16));
        var wide = MemoryEstimate.Of(Spec(width: 32));
        Assert.InRange(wide.Parameters / (double)narrow.Parameters, 3.8, 4.1);
        // Weights and their gradients, plus the momentum buffer (momentum 0.8).
        Assert.Equal(8 * narrow.Parameters + 4 * narrow.Buffers, narrow.ModelBytes);
        Assert.Equal(4 * narrow.Parameters, narrow.OptimizerBytes);
    }

    [Fact]
    public void Mixed_sizes_take_the_step_that_keeps_the_most()
    {
        var spec = Spec() with
        {
            Data = SpecTestHelpers.Full.Data with { Dataset = DatasetKind.FashionMnist },
            Training = Spec().Training with { MixedSize = new MixedSizeSpec(MixedSizeMode.DPlus, [20, 56], [0.5, 0.5]) },
        };
        var estimate = MemoryEstimate.Of(spec);
        // D+ at 56 px: copies max(1, round(M/4)) = 1, so each row is 4x the pixels of the dataset's 28.
        Assert.Equal(56, estimate.ImageSide);
        Assert.Equal(256, estimate.RowsPerWorker);
    }

    [Fact]
    public void Dataset_memory_follows_the_subset()
    {
        var spec = SpecTestHelpers.Full; // cifar10, 1000 train, 500 test
        Assert.Equal(1500 * (3 * 32 * 32 * 4 + 8), MemoryEstimate.Of(spec).DatasetBytes);
    }
}
