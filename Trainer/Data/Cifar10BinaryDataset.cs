using Orchestrator.Spec;

namespace Orchestrator.Trainer.Data;

/// <summary>
/// Loads the CIFAR-10 binary distribution (data_batch_1..5.bin, test_batch.bin): records of one label byte
/// followed by 3072 pixel bytes, the 1024 red, 1024 green, then 1024 blue values of a row-major 32x32 image.
/// That is already [C, H, W] order, so pixels are copied record by record with no transposition.
/// </summary>
public static class Cifar10BinaryDataset
{
    /// <summary>Bytes per record: label plus 3 x 32 x 32 pixels.</summary>
    public const int RecordBytes = 1 + PixelBytes;

    /// <summary>The tarball's folder name, looked for under the root when the files are not directly in it.</summary>
    public const string ArchiveFolder = "cifar-10-batches-bin";

    private const int PixelBytes = 3 * 32 * 32;
    private const int Classes = 10;

    private static readonly string[] TrainFiles = ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
    private static readonly string[] TestFiles = ["test_batch.bin"];

    /// <summary>Loads both splits from <paramref name="root"/> or <c>root/cifar-10-batches-bin</c>.</summary>
    public static DatasetSplits Load(string root)
    {
        if (string.IsNullOrWhiteSpace(root))
            throw new UserFacingException("cifar10: data.root must name the directory holding the CIFAR-10 binary batches");
        if (!Directory.Exists(root))
            throw new UserFacingException($"cifar10: directory {root} not found; set data.root");

        var nested = Path.Combine(root, ArchiveFolder);
        var dir = !File.Exists(Path.Combine(root, TestFiles[0])) && Directory.Exists(nested) ? nested : root;
        var missing = TrainFiles.Concat(TestFiles).Where(f => !File.Exists(Path.Combine(dir, f))).ToList();
        if (missing.Count > 0)
            throw new UserFacingException($"cifar10: missing {string.Join(", ", missing)} in {dir}; set data.root to the extracted cifar-10-batches-bin directory");

        var train = LoadSplit(dir, TrainFiles);
        try
        {
            return new DatasetSplits(train, LoadSplit(dir, TestFiles));
        }
        catch
        {
            train.Dispose();
            throw;
        }
    }

    private static TensorDataset LoadSplit(string dir, string[] files)
    {
        var contents = files.Select(f => ReadBatch(Path.Combine(dir, f))).ToList();
        long count = contents.Sum(c => (long)c.Length / RecordBytes);
        var pixels = new byte[count * PixelBytes];
        var labels = new byte[count];
        long n = 0;
        foreach (var bytes in contents)
        {
            for (int r = 0; r < bytes.Length / RecordBytes; r++, n++)
            {
                labels[n] = bytes[r * RecordBytes];
                bytes.AsSpan(r * RecordBytes + 1, PixelBytes).CopyTo(pixels.AsSpan((int)(n * PixelBytes), PixelBytes));
            }
        }
        var x = ChannelStats.Cifar10.Normalize(pixels, [count, 3, 32, 32]);
        var y = ChannelStats.Labels(labels);
        return new TensorDataset(x, y, Classes);
    }

    private static byte[] ReadBatch(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserFacingException($"{path}: cannot read: {e.Message}", e);
        }
        if (bytes.Length == 0 || bytes.Length % RecordBytes != 0)
            throw new UserFacingException(
                $"{path}: size {bytes.Length} bytes is not a positive multiple of the {RecordBytes}-byte CIFAR-10 record");
        for (int r = 0; r < bytes.Length / RecordBytes; r++)
        {
            if (bytes[r * RecordBytes] >= Classes)
                throw new UserFacingException($"{path}: record {r} has label {bytes[r * RecordBytes]}; CIFAR-10 labels are 0..9");
        }
        return bytes;
    }
}
