using Orchestrator.Spec;

namespace Orchestrator.Trainer.Data;

/// <summary>
/// Loads an MNIST-layout directory (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
/// t10k-labels-idx1-ubyte, each optionally <c>.gz</c>) into normalized [N, 1, H, W] float32 images and int64
/// labels. Serves both the <c>fashion-mnist</c> and <c>mnist-idx</c> sources, which differ only in their
/// statistics, default location and install hint.
/// </summary>
public static class MnistIdxDataset
{
    /// <summary>Where the Debian package <c>dataset-fashion-mnist</c> installs the files.</summary>
    public const string FashionMnistDefaultRoot = "/usr/share/datasets/fashion-mnist";

    private const int Classes = 10;

    private const string FashionMnistHint =
        "install it with `apt-get install dataset-fashion-mnist` (installs to " + FashionMnistDefaultRoot + ") or set data.root";

    /// <summary>Fashion-MNIST from <paramref name="root"/>, or the Debian package's directory when it is empty.</summary>
    public static DatasetSplits LoadFashionMnist(string root, SplitLimits limits = default) =>
        Load(string.IsNullOrWhiteSpace(root) ? FashionMnistDefaultRoot : root, ChannelStats.FashionMnist, DatasetKind.FashionMnist.SpecName(), FashionMnistHint, limits);

    /// <summary>MNIST (or any 10-class IDX set with MNIST statistics) from <paramref name="root"/>.</summary>
    public static DatasetSplits LoadMnist(string root, SplitLimits limits = default)
    {
        if (string.IsNullOrWhiteSpace(root))
            throw new UserFacingException($"{DatasetKind.MnistIdx.SpecName()}: data.root must name the directory holding the IDX files");
        return Load(root, ChannelStats.Mnist, DatasetKind.MnistIdx.SpecName(), "set data.root to the directory holding the IDX files", limits);
    }

    /// <summary>Loads both splits from <paramref name="root"/> and normalizes them with <paramref name="stats"/>.</summary>
    /// <param name="name">Dataset name used in error messages.</param>
    /// <param name="hint">How the user gets the files, appended to missing-file errors.</param>
    /// <param name="limits">Only the first N samples of a split are normalized and kept (0 = all); the files are still
    /// read and checked whole.</param>
    public static DatasetSplits Load(string root, ChannelStats stats, string name, string hint, SplitLimits limits = default)
    {
        if (!Directory.Exists(root))
            throw new UserFacingException($"{name}: directory {root} not found; {hint}");
        // The splits are independent files: the test split is read and checked while the training split is (a worker's
        // start-up). Only the files: the tensors are made on this thread, because a torch operation on another thread starts
        // a second OpenMP team, and with more OpenMP threads than cores libgomp stops spinning between parallel regions
        // for the rest of the process (every kernel then waits on a futex wake-up: about 5% of a resnet20 step here).
        var test = Task.Run(() => ReadSplit(root, "t10k", name, hint));
        RawSplit train;
        try
        {
            train = ReadSplit(root, "train", name, hint);
        }
        catch
        {
            try { test.GetAwaiter().GetResult(); }
            catch (UserFacingException) { } // the training split's error is the one reported
            throw;
        }
        var testSplit = test.GetAwaiter().GetResult();
        var trainSet = train.ToDataset(stats, limits.Train);
        try
        {
            return new DatasetSplits(trainSet, testSplit.ToDataset(stats, limits.Test));
        }
        catch
        {
            trainSet.Dispose();
            throw;
        }
    }

    private static RawSplit ReadSplit(string root, string prefix, string name, string hint)
    {
        var imagesPath = Find(root, $"{prefix}-images-idx3-ubyte", name, hint);
        var labelsPath = Find(root, $"{prefix}-labels-idx1-ubyte", name, hint);
        var images = IdxReader.ReadImages(imagesPath);
        var labels = IdxReader.ReadLabels(labelsPath);
        if (images.Count != labels.Count)
            throw new UserFacingException(
                $"{name}: {imagesPath} has {images.Count} images but {labelsPath} has {labels.Count} labels");
        int bad = Array.FindIndex(labels.Data, l => l >= Classes);
        if (bad >= 0)
            throw new UserFacingException($"{labelsPath}: label {labels.Data[bad]} at index {bad} is not in 0..{Classes - 1}");
        return new RawSplit(images, labels);
    }

    /// <summary>A split's checked files, before any tensor exists.</summary>
    private sealed record RawSplit(IdxFile Images, IdxFile Labels)
    {
        /// <summary>The first <paramref name="limit"/> samples (0 = all) as normalized images and labels.</summary>
        public TensorDataset ToDataset(ChannelStats stats, int limit)
        {
            int count = limit > 0 && limit < Images.Count ? limit : Images.Count;
            int pixels = Images.Dims[1] * Images.Dims[2];
            var x = stats.Normalize(count == Images.Count ? Images.Data : Images.Data[..(count * pixels)], [count, 1, Images.Dims[1], Images.Dims[2]]);
            var y = ChannelStats.Labels(count == Labels.Count ? Labels.Data : Labels.Data[..count]);
            return new TensorDataset(x, y, Classes);
        }
    }

    /// <summary>The file under either its plain or its <c>.gz</c> name; distributions ship one or the other.</summary>
    private static string Find(string root, string baseName, string name, string hint)
    {
        foreach (var candidate in new[] { baseName, baseName + ".gz" })
        {
            var path = Path.Combine(root, candidate);
            if (File.Exists(path)) return path;
        }
        throw new UserFacingException($"{name}: {Path.Combine(root, baseName)}(.gz) not found; {hint}");
    }
}
