using Orchestrator.Spec;
using Orchestrator.Trainer.Data;
using TorchSharp;

namespace Orchestrator.Tests.Data;

public class Cifar10BinaryDatasetTests
{
    private static readonly string[] Files =
        ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"];

    private static readonly float[] Mean = [0.4914f, 0.4822f, 0.4465f];
    private static readonly float[] Std = [0.2470f, 0.2435f, 0.2616f];

    /// <summary>A distinct value for every (record, channel, row, column) so misplaced pixels show.</summary>
    private static byte Pixel(int record, int c, int y, int x) => (byte)((record * 41 + c * 97 + y * 11 + x * 3) % 256);

    private static int Label(int record) => (record * 3) % 10;

    /// <summary>Writes <paramref name="perFile"/> records per file; records are numbered across files in order.</summary>
    private static void WriteBatches(string dir, int perFile)
    {
        Directory.CreateDirectory(dir);
        int record = 0;
        foreach (var file in Files)
        {
            var bytes = new List<byte>();
            for (int r = 0; r < perFile; r++, record++)
            {
                bytes.Add((byte)Label(record));
                for (int c = 0; c < 3; c++)
                    for (int y = 0; y < 32; y++)
                        for (int x = 0; x < 32; x++)
                            bytes.Add(Pixel(record, c, y, x));
            }
            File.WriteAllBytes(Path.Combine(dir, file), bytes.ToArray());
        }
    }

    private static void AssertRecords(TensorDataset set, int firstRecord)
    {
        var labels = set.Labels.data<long>().ToArray();
        var images = set.Images.data<float>().ToArray();
        for (int n = 0; n < set.Count; n++)
        {
            Assert.Equal(Label(firstRecord + n), labels[n]);
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < 32; y++)
                    for (int x = 0; x < 32; x++)
                    {
                        // Undo the normalization and compare with the byte written at that exact position.
                        float v = images[((n * 3 + c) * 32 + y) * 32 + x];
                        int raw = (int)MathF.Round((v * Std[c] + Mean[c]) * 255f);
                        Assert.Equal(Pixel(firstRecord + n, c, y, x), raw);
                    }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PlacesEveryPixelAndLabel(bool nested)
    {
        using var dir = new TempDirectory();
        WriteBatches(nested ? Path.Combine(dir.Path, "cifar-10-batches-bin") : dir.Path, perFile: 2);

        var splits = Cifar10BinaryDataset.Load(dir.Path);
        using var train = splits.Train;
        using var test = splits.Test;

        Assert.Equal([10L, 3, 32, 32], train.Images.shape);
        Assert.Equal([2L, 3, 32, 32], test.Images.shape);
        Assert.Equal(torch.ScalarType.Int64, train.Labels.dtype);
        Assert.Equal(10, train.Classes);
        AssertRecords(train, 0);
        AssertRecords(test, 10);
    }

    [Fact]
    public void MissingFilesAreNamed()
    {
        using var dir = new TempDirectory();
        WriteBatches(dir.Path, perFile: 1);
        File.Delete(dir.File("data_batch_3.bin"));
        File.Delete(dir.File("test_batch.bin"));
        var e = Assert.Throws<UserFacingException>(() => Cifar10BinaryDataset.Load(dir.Path));
        Assert.Contains("data_batch_3.bin", e.Message);
        Assert.Contains("test_batch.bin", e.Message);
        Assert.DoesNotContain("data_batch_2.bin", e.Message);
    }

    [Fact]
    public void SizeNotAMultipleOfTheRecordIsReported()
    {
        using var dir = new TempDirectory();
        WriteBatches(dir.Path, perFile: 1);
        File.AppendAllText(dir.File("data_batch_4.bin"), "x");
        var e = Assert.Throws<UserFacingException>(() => Cifar10BinaryDataset.Load(dir.Path));
        Assert.Contains("data_batch_4.bin", e.Message);
        Assert.Contains("3073", e.Message);
    }

    [Fact]
    public void LabelAboveNineIsReported()
    {
        using var dir = new TempDirectory();
        WriteBatches(dir.Path, perFile: 2);
        var bytes = File.ReadAllBytes(dir.File("test_batch.bin"));
        bytes[3073] = 10;
        File.WriteAllBytes(dir.File("test_batch.bin"), bytes);
        var e = Assert.Throws<UserFacingException>(() => Cifar10BinaryDataset.Load(dir.Path));
        Assert.Contains("test_batch.bin", e.Message);
        Assert.Contains("label 10", e.Message);
    }

    [Fact]
    public void MissingDirectoryIsReported()
    {
        var e = Assert.Throws<UserFacingException>(() => Cifar10BinaryDataset.Load("/nonexistent/cifar"));
        Assert.Contains("/nonexistent/cifar", e.Message);
    }
}
