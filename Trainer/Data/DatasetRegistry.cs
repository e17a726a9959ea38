using Orchestrator.Spec;

namespace Orchestrator.Trainer.Data;

/// <summary>
/// Maps <see cref="DataSpec.Dataset"/> to its loader, so adding a source is one arm here rather than
/// a switch in every caller.
/// </summary>
public static class DatasetRegistry
{
    /// <summary>
    /// Loads the dataset <paramref name="spec"/> names and cuts it to <see cref="DataSpec.TrainSubset"/> /
    /// <see cref="DataSpec.TestSubset"/> samples (0 = all).
    /// </summary>
    public static DatasetSplits Load(DataSpec spec, long seed)
    {
        if (spec.TrainSubset < 0 || spec.TestSubset < 0)
            throw new UserFacingException($"data subset sizes must be >= 0 (train {spec.TrainSubset}, test {spec.TestSubset})");
        var full = spec.Dataset switch
        {
            DatasetKind.FashionMnist => MnistIdxDataset.LoadFashionMnist(spec.Root, new(spec.TrainSubset, spec.TestSubset)),
            DatasetKind.MnistIdx => MnistIdxDataset.LoadMnist(spec.Root, new(spec.TrainSubset, spec.TestSubset)),
            DatasetKind.Cifar10 => Cifar10BinaryDataset.Load(spec.Root),
            DatasetKind.Synthetic => SyntheticDataset.Generate(seed),
        };
        return new DatasetSplits(Subset(full.Train, spec.TrainSubset), Subset(full.Test, spec.TestSubset));
    }

    /// <summary>The first <paramref name="count"/> samples; the full set's handles are released since the view keeps the storage.</summary>
    private static TensorDataset Subset(TensorDataset full, int count)
    {
        var part = full.Take(count);
        if (!ReferenceEquals(part, full)) full.Dispose();
        return part;
    }
}
