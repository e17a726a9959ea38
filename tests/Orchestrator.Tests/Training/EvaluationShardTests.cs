using Orchestrator.Spec;
using Orchestrator.Trainer.Devices;
using Orchestrator.Trainer.Training;

namespace Orchestrator.Tests.Training;

/// <summary>How evaluation is split across ranks and into forwards.</summary>
public sealed class EvaluationShardTests
{
    [Theory]
    [InlineData(10_000, 1)]
    [InlineData(10_000, 2)]
    [InlineData(101, 4)]
    [InlineData(7, 3)]
    [InlineData(3, 8)] // more ranks than rows: some evaluate nothing
    [InlineData(0, 2)]
    public void Shards_cover_every_row_once_in_rank_order_and_differ_by_at_most_one(int rows, int world)
    {
        var shards = Enumerable.Range(0, world).Select(r => EvaluationShard.Of(rows, r, world)).ToList();

        Assert.Equal(0, shards[0].Start);
        for (int r = 1; r < world; r++) Assert.Equal(shards[r - 1].Start + shards[r - 1].Count, shards[r].Start);
        Assert.Equal(rows, shards.Sum(s => s.Count));
        Assert.True(shards.Max(s => s.Count) - shards.Min(s => s.Count) <= 1);
    }

    [Fact]
    public void A_rank_outside_the_world_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => EvaluationShard.Of(10, 2, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => EvaluationShard.Of(10, -1, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => EvaluationShard.Of(10, 0, 0));
    }

    [Theory]
    [InlineData(ModelKind.Cnn, 32, 1, 28)]
    [InlineData(ModelKind.ResNet20, 16, 3, 32)]
    [InlineData(ModelKind.ResNet44, 64, 3, 32)]
    [InlineData(ModelKind.Cnn, 1024, 3, 32)]
    public void An_evaluation_forward_keeps_its_largest_activation_in_the_heap(ModelKind kind, int width, int channels, int side)
    {
        var model = new ModelSpec(kind, width, NormKind.Batch);
        int rows = EvaluationBatch.Rows(model, channels, side);
        double largest = 4.0 * EvaluationBatch.LargestActivationFloats(model, channels, side);

        Assert.InRange(rows, EvaluationBatch.MinRows, EvaluationBatch.MaxRows);
        if (rows > EvaluationBatch.MinRows) Assert.True(rows * largest <= HeapTuning.MmapThresholdBytes / 2.0);
        if (rows < EvaluationBatch.MaxRows) Assert.True((rows + 1) * largest > HeapTuning.MmapThresholdBytes / 2.0); // as many as fit
    }

    [Fact]
    public void The_example_cnn_evaluates_in_forwards_of_167_images()
    {
        // 32 maps of 28x28 floats = 100,352 bytes a row; 16 MiB / that = 167.
        Assert.Equal(167, EvaluationBatch.Rows(new ModelSpec(ModelKind.Cnn, 32, NormKind.Batch), 1, 28));
        Assert.Equal(EvaluationBatch.MaxRows, EvaluationBatch.Rows(new ModelSpec(ModelKind.Mlp, 8, NormKind.None), 1, 12));
    }
}
