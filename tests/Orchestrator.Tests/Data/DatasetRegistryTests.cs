using Orchestrator.Spec;
using Orchestrator.Trainer.Data;

namespace Orchestrator.Tests.Data;

public class DatasetRegistryTests
{
    private static DataSpec Spec(string dataset, string root = "", int train = 0, int test = 0) =>
        new(Named.Dataset(dataset), root, train, test, new AugmentSpec(0, false, 0));

    [Fact]
    public void KnowsTheDocumentedSources()
    {
        Assert.Equal(["cifar10", "fashion-mnist", "mnist-idx", "synthetic"], SpecChoice.Names<DatasetKind>(SpecNames.SpecName).Order());
    }

    [Fact]
    public void AppliesSubsets()
    {
        var splits = DatasetRegistry.Load(Spec("synthetic", train: 100, test: 10), seed: 5);
        using var train = splits.Train;
        using var test = splits.Test;
        Assert.Equal(100, train.Count);
        Assert.Equal(100L, train.Labels.shape[0]);
        Assert.Equal(10, test.Count);
    }

    [Fact]
    public void ZeroSubsetMeansAll()
    {
        var splits = DatasetRegistry.Load(Spec("synthetic"), seed: 5);
        using var train = splits.Train;
        using var test = splits.Test;
        Assert.Equal(SyntheticDataset.DefaultTrainCount, train.Count);
        Assert.Equal(SyntheticDataset.DefaultTestCount, test.Count);
    }

    [Fact]
    public void SubsetIsThePrefixOfTheFullSet()
    {
        var full = DatasetRegistry.Load(Spec("synthetic"), seed: 9);
        var part = DatasetRegistry.Load(Spec("synthetic", train: 50), seed: 9);
        Assert.True(full.Train.Images.narrow(0, 0, 50).equal(part.Train.Images).all().item<bool>());
        foreach (var s in new[] { full, part }) { s.Train.Dispose(); s.Test.Dispose(); }
    }

    [Fact]
    public void DispatchesToFileSources()
    {
        var e = Assert.Throws<UserFacingException>(() => DatasetRegistry.Load(Spec("cifar10", root: "/nonexistent/c10"), 0));
        Assert.Contains("/nonexistent/c10", e.Message);
        e = Assert.Throws<UserFacingException>(() => DatasetRegistry.Load(Spec("fashion-mnist", root: "/nonexistent/fm"), 0));
        Assert.Contains("apt-get install dataset-fashion-mnist", e.Message);
        e = Assert.Throws<UserFacingException>(() => DatasetRegistry.Load(Spec("mnist-idx", root: "/nonexistent/m"), 0));
        Assert.Contains("/nonexistent/m", e.Message);
    }
}
