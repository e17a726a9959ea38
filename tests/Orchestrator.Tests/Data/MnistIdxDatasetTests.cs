using Orchestrator.Spec;
using Orchestrator.Trainer.Data;
using TorchSharp;

namespace Orchestrator.Tests.Data;

public class MnistIdxDatasetTests
{
    private static byte[][] Images(int count, int seed) =>
        Enumerable.Range(0, count).Select(n => Enumerable.Range(0, 28 * 28).Select(i => (byte)((i * 13 + n * 101 + seed) % 256)).ToArray()).ToArray();

    private static void WriteSet(TempDirectory dir, int train, int test, bool gzip, int trainLabels = -1)
    {
        var suffix = gzip ? ".gz" : "";
        IdxFormat.WriteImages(dir.File("train-images-idx3-ubyte" + suffix), Images(train, 1), gzip: gzip);
        IdxFormat.WriteLabels(dir.File("train-labels-idx1-ubyte" + suffix),
            Enumerable.Range(0, trainLabels < 0 ? train : trainLabels).Select(i => (byte)(i % 10)).ToArray(), gzip: gzip);
        IdxFormat.WriteImages(dir.File("t10k-images-idx3-ubyte" + suffix), Images(test, 2), gzip: gzip);
        IdxFormat.WriteLabels(dir.File("t10k-labels-idx1-ubyte" + suffix), Enumerable.Range(0, test).Select(i => (byte)(9 - i)).ToArray(), gzip: gzip);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LoadsNormalizedSplits(bool gzip)
    {
        using var dir = new TempDirectory();
        WriteSet(dir, train: 5, test: 3, gzip);

        var splits = MnistIdxDataset.LoadMnist(dir.Path);
        using var train = splits.Train;
        using var test = splits.Test;

        Assert.Equal([5L, 1, 28, 28], train.Images.shape);
        Assert.Equal([3L, 1, 28, 28], test.Images.shape);
        Assert.Equal(torch.ScalarType.Float32, train.Images.dtype);
        Assert.Equal(torch.ScalarType.Int64, train.Labels.dtype);
        Assert.Equal(10, train.Classes);
        Assert.Equal(new long[] { 0, 1, 2, 3, 4 }, train.Labels.data<long>().ToArray());
        Assert.Equal(new long[] { 9, 8, 7 }, test.Labels.data<long>().ToArray());

        var expected = Images(5, 1).SelectMany(i => i).Select(b => (b / 255f - 0.1307f) / 0.3081f).ToArray();
        var actual = train.Images.data<float>().ToArray();
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 1e-5f);
    }

    [Fact]
    public void CountMismatchIsReported()
    {
        using var dir = new TempDirectory();
        WriteSet(dir, train: 5, test: 3, gzip: false, trainLabels: 4);
        var e = Assert.Throws<UserFacingException>(() => MnistIdxDataset.LoadMnist(dir.Path));
        Assert.Contains("5 images", e.Message);
        Assert.Contains("4 labels", e.Message);
    }

    [Fact]
    public void MissingFileNamesItAndTheFix()
    {
        using var dir = new TempDirectory();
        WriteSet(dir, train: 2, test: 2, gzip: true);
        File.Delete(dir.File("t10k-labels-idx1-ubyte.gz"));
        var e = Assert.Throws<UserFacingException>(() => MnistIdxDataset.LoadFashionMnist(dir.Path));
        Assert.Contains("t10k-labels-idx1-ubyte", e.Message);
        Assert.Contains("apt-get install dataset-fashion-mnist", e.Message);
    }

    [Fact]
    public void MissingFashionMnistDirectorySaysHowToInstall()
    {
        var e = Assert.Throws<UserFacingException>(() => MnistIdxDataset.LoadFashionMnist("/nonexistent/fashion-mnist"));
        Assert.Contains("apt-get install dataset-fashion-mnist", e.Message);
        Assert.Contains("/usr/share/datasets/fashion-mnist", e.Message);
        Assert.Contains("data.root", e.Message);
    }

    /// <summary>The real files from the Debian package dataset-fashion-mnist (installed in CI).</summary>
    [Fact]
    public void LoadsInstalledFashionMnist()
    {
        var splits = MnistIdxDataset.LoadFashionMnist("");
        using var train = splits.Train;
        using var test = splits.Test;

        Assert.Equal([60000L, 1, 28, 28], train.Images.shape);
        Assert.Equal([10000L, 1, 28, 28], test.Images.shape);
        Assert.Equal([60000L], train.Labels.shape);
        Assert.Equal([10000L], test.Labels.shape);
        Assert.Equal(0L, train.Labels.min().item<long>());
        Assert.Equal(9L, train.Labels.max().item<long>());
        Assert.Equal(0L, test.Labels.min().item<long>());
        Assert.Equal(9L, test.Labels.max().item<long>());
        // The constants are the training split's statistics, so normalized train pixels are ~N(0, 1).
        Assert.InRange(train.Images.mean().item<float>(), -0.01f, 0.01f);
        Assert.InRange(train.Images.std().item<float>(), 0.99f, 1.01f);
    }

    [Fact]
    public void A_limited_load_keeps_exactly_the_first_samples_of_the_full_load()
    {
        var full = MnistIdxDataset.LoadFashionMnist("");
        var part = MnistIdxDataset.LoadFashionMnist("", new SplitLimits(1000, 300));
        using (full.Train) using (full.Test) using (part.Train) using (part.Test)
        {
            Assert.Equal([1000L, 1, 28, 28], part.Train.Images.shape);
            Assert.Equal([300L, 1, 28, 28], part.Test.Images.shape);
            Assert.True(part.Train.Images.eq(full.Train.Images.narrow(0, 0, 1000)).all().item<bool>());
            Assert.True(part.Train.Labels.eq(full.Train.Labels.narrow(0, 0, 1000)).all().item<bool>());
            Assert.True(part.Test.Images.eq(full.Test.Images.narrow(0, 0, 300)).all().item<bool>());
            Assert.True(part.Test.Labels.eq(full.Test.Labels.narrow(0, 0, 300)).all().item<bool>());
        }
        // A limit beyond the split keeps it whole.
        var whole = MnistIdxDataset.LoadFashionMnist("", new SplitLimits(0, 20000));
        using (whole.Train) using (whole.Test)
            Assert.Equal((60000, 10000), (whole.Train.Count, whole.Test.Count));
    }
}
