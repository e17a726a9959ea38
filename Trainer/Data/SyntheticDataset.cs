using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Data;

/// <summary>
/// A small generated dataset for fast training tests: each class has a fixed random prototype image and
/// every sample is its class prototype plus Gaussian noise, so a model can learn it in a few steps yet
/// cannot reach 100% trivially when the noise is large. Fully determined by the seed (libtorch's CPU
/// generator is the same on every platform).
/// </summary>
public static class SyntheticDataset
{
    /// <summary>Default training sample count.</summary>
    public const int DefaultTrainCount = 2048;

    /// <summary>Default test sample count.</summary>
    public const int DefaultTestCount = 512;

    /// <summary>Generates train and test splits drawn from the same class prototypes.</summary>
    /// <param name="noise">Standard deviation of the per-pixel noise; prototypes have standard deviation 1.</param>
    public static DatasetSplits Generate(
        long seed,
        int trainCount = DefaultTrainCount,
        int testCount = DefaultTestCount,
        int classes = 10,
        int channels = 1,
        int height = 12,
        int width = 12,
        float noise = 1f)
    {
        if (trainCount <= 0 || testCount <= 0) throw new ArgumentOutOfRangeException(nameof(trainCount), "sample counts must be positive");
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), "need at least 2 classes");
        if (channels <= 0 || height <= 0 || width <= 0) throw new ArgumentOutOfRangeException(nameof(channels), "image dimensions must be positive");

        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        var prototypes = randn([classes, channels, height, width], generator: generator);
        var train = Split(prototypes, trainCount, classes, noise, generator);
        var test = Split(prototypes, testCount, classes, noise, generator);
        train.Images.MoveToOuterDisposeScope();
        train.Labels.MoveToOuterDisposeScope();
        test.Images.MoveToOuterDisposeScope();
        test.Labels.MoveToOuterDisposeScope();
        return new DatasetSplits(train, test);
    }

    private static TensorDataset Split(Tensor prototypes, int count, int classes, float noise, Generator generator)
    {
        var labels = randint(0, classes, [count], dtype: ScalarType.Int64, generator: generator);
        var shape = new long[] { count, prototypes.shape[1], prototypes.shape[2], prototypes.shape[3] };
        var images = prototypes.index_select(0, labels).add_(randn(shape, generator: generator).mul_(noise));
        return new TensorDataset(images, labels, classes);
    }
}
