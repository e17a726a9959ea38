using Orchestrator.Tests.Data;

namespace Orchestrator.Tests.Cli;

/// <summary>Missing or damaged dataset files: exit code 2 naming the file and what to do.</summary>
public sealed class DataErrorCliTests
{
    [Fact]
    public void Missing_fashion_mnist_files_are_named_with_how_to_install_them()
    {
        using var dir = new TempDirectory();
        var root = Directory.CreateDirectory(dir.File("data")).FullName;
        var spec = CliSpecs.Write(dir, CliSpecs.Idx("fashion-mnist", root));

        var result = CliRunner.Train(dir.Path, spec, "--out", dir.File("run"));

        CliAssert.UserError(result,
            Path.Combine(root, "train-images-idx3-ubyte"), "not found",
            "apt-get install dataset-fashion-mnist", "data.root");
    }

    [Fact]
    public void Missing_dataset_directory_is_named()
    {
        using var dir = new TempDirectory();
        var root = dir.File("nowhere");
        var spec = CliSpecs.Write(dir, CliSpecs.Idx("fashion-mnist", root));

        var result = CliRunner.Train(dir.Path, spec, "--out", dir.File("run"));

        CliAssert.UserError(result, $"directory {root} not found", "dataset-fashion-mnist", "data.root");
    }

    [Fact]
    public void Idx_file_with_the_wrong_magic_is_named()
    {
        using var dir = new TempDirectory();
        var root = Directory.CreateDirectory(dir.File("data")).FullName;
        var images = Path.Combine(root, "train-images-idx3-ubyte");
        // A labels header where the images belong.
        File.WriteAllBytes(images, IdxFormat.Encode(0x801, [3], [0, 1, 2]));
        IdxFormat.WriteLabels(Path.Combine(root, "train-labels-idx1-ubyte"), [0, 1, 2]);
        var spec = CliSpecs.Write(dir, CliSpecs.Idx("mnist-idx", root));

        var result = CliRunner.Train(dir.Path, spec, "--out", dir.File("run"));

        CliAssert.UserError(result, images, "not an IDX file", "0x00000801", "0x00000803");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Truncated_idx_file_is_named(bool gzip)
    {
        using var dir = new TempDirectory();
        var root = Directory.CreateDirectory(dir.File("data")).FullName;
        IdxFormat.WriteImages(Path.Combine(root, "train-images-idx3-ubyte"), [new byte[28 * 28], new byte[28 * 28], new byte[28 * 28]]);
        var labels = Path.Combine(root, "train-labels-idx1-ubyte" + (gzip ? ".gz" : ""));
        // The header promises 3 labels; the file ends after 2.
        var raw = IdxFormat.Encode(0x801, [3], [0, 1]);
        File.WriteAllBytes(labels, gzip ? IdxFormat.Gzip(raw) : raw);
        var spec = CliSpecs.Write(dir, CliSpecs.Idx("mnist-idx", root));

        var result = CliRunner.Train(dir.Path, spec, "--out", dir.File("run"));

        CliAssert.UserError(result, labels, "truncated", "3 = 3 bytes, found 2");
    }

    [Fact]
    public void Cut_off_gzip_file_is_named()
    {
        using var dir = new TempDirectory();
        var root = Directory.CreateDirectory(dir.File("data")).FullName;
        var images = Path.Combine(root, "train-images-idx3-ubyte.gz");
        var gz = IdxFormat.Gzip(IdxFormat.Encode(0x803, [4, 28, 28], Enumerable.Range(0, 4 * 28 * 28).Select(i => (byte)(i * 31)).ToArray()));
        File.WriteAllBytes(images, gz[..(gz.Length / 2)]);
        IdxFormat.WriteLabels(Path.Combine(root, "train-labels-idx1-ubyte"), [0, 1, 2, 3]);
        var spec = CliSpecs.Write(dir, CliSpecs.Idx("mnist-idx", root));

        var result = CliRunner.Train(dir.Path, spec, "--out", dir.File("run"));

        CliAssert.UserError(result, images);
        // GZipStream hands back what it could inflate, which the IDX check then finds too short.
        Assert.True(result.Output.Contains("truncated", StringComparison.Ordinal) || result.Output.Contains("corrupt gzip", StringComparison.Ordinal), result.ToString());
    }
}
