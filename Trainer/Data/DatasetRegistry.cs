using Orchestrator.Spec;

namespace Orchestrator.Trainer.Data;

/// <summary>
/// Maps <see cref="DataSpec.Dataset"/> names to loaders, so adding a source is one entry here rather than
/// a switch in every caller.
/// </summary>
public static class DatasetRegistry
{
    /// <summary>Loads both splits of a dataset; the seed matters only for generated sources.</summary>
    public delegate DatasetSplits Source(DataSpec spec, long seed);

    private static readonly Dictionary<string, Source> Sources = new Dictionary<string, Source>(StringComparer.Ordinal)
    {
        ["fashion-mnist"] = (spec, _) => MnistIdxDataset.LoadFashionMnist(spec.Root),
        ["mnist-idx"] = (spec, _) => MnistIdxDataset.LoadMnist(spec.Root),
        ["cifar10"] = (spec, _) => Cifar10BinaryDataset.Load(spec.Root),
        ["synthetic"] = (_, seed) => SyntheticDataset.Generate(seed),
    };

    /// <summary>The dataset names <see cref="Load"/> accepts.</summary>
    public static IReadOnlyCollection<string> Names => Sources.Keys;

    /// <summary>
    /// Loads the dataset <paramref name="spec"/> names and cuts it to <see cref="DataSpec.TrainSubset"/> /
    /// <see cref="DataSpec.TestSubset"/> samples (0 = all).
    /// </summary>
    public static DatasetSplits Load(DataSpec spec, long seed)
    {
        if (!Sources.TryGetValue(spec.Dataset, out var source))
            throw new UserFacingException($"unknown data.dataset '{spec.Dataset}'; known: {string.Join(", ", Sources.Keys)}");
        if (spec.TrainSubset < 0 || spec.TestSubset < 0)
            throw new UserFacingException($"data subset sizes must be >= 0 (train {spec.TrainSubset}, test {spec.TestSubset})");
        var full = source(spec, seed);
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
