using Orchestrator.Trainer.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Tests.Data;

public class SyntheticDatasetTests
{
    private static bool Same(Tensor a, Tensor b) =>
        a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && a.equal(b).all().item<bool>();

    [Fact]
    public void DefaultsAreSmall()
    {
        var splits = SyntheticDataset.Generate(seed: 1);
        using var train = splits.Train;
        using var test = splits.Test;
        Assert.Equal([2048L, 1, 12, 12], train.Images.shape);
        Assert.Equal([512L, 1, 12, 12], test.Images.shape);
        Assert.Equal(ScalarType.Float32, train.Images.dtype);
        Assert.Equal(ScalarType.Int64, train.Labels.dtype);
        Assert.Equal(10, train.Classes);
        Assert.Equal(0L, train.Labels.min().item<long>());
        Assert.Equal(9L, train.Labels.max().item<long>());
    }

    [Fact]
    public void ShapeIsConfigurable()
    {
        var splits = SyntheticDataset.Generate(seed: 1, trainCount: 30, testCount: 7, classes: 3, channels: 3, height: 5, width: 4);
        using var train = splits.Train;
        using var test = splits.Test;
        Assert.Equal([30L, 3, 5, 4], train.Images.shape);
        Assert.Equal([7L, 3, 5, 4], test.Images.shape);
        Assert.Equal(3, train.Classes);
        Assert.InRange(train.Labels.max().item<long>(), 0L, 2L);
    }

    [Fact]
    public void DeterministicBySeed()
    {
        var a = SyntheticDataset.Generate(seed: 7, trainCount: 64, testCount: 16);
        var b = SyntheticDataset.Generate(seed: 7, trainCount: 64, testCount: 16);
        var c = SyntheticDataset.Generate(seed: 8, trainCount: 64, testCount: 16);
        Assert.True(Same(a.Train.Images, b.Train.Images));
        Assert.True(Same(a.Train.Labels, b.Train.Labels));
        Assert.True(Same(a.Test.Images, b.Test.Images));
        Assert.False(Same(a.Train.Images, c.Train.Images));
        foreach (var s in new[] { a, b, c }) { s.Train.Dispose(); s.Test.Dispose(); }
    }

    /// <summary>Class means of the training split classify the test split well: the data is learnable.</summary>
    [Fact]
    public void IsLearnable()
    {
        using var scope = NewDisposeScope();
        var splits = SyntheticDataset.Generate(seed: 3);
        var train = splits.Train;
        var test = splits.Test;
        var flatTrain = train.Images.flatten(1);
        var means = stack(Enumerable.Range(0, train.Classes)
            .Select(k => flatTrain[train.Labels.eq(k)].mean([0L])).ToArray());
        var predicted = cdist(test.Images.flatten(1), means).argmin(1);
        var accuracy = predicted.eq(test.Labels).to(ScalarType.Float32).mean().item<float>();
        Assert.True(accuracy > 0.9f, $"nearest-class-mean accuracy {accuracy}");
    }
}
