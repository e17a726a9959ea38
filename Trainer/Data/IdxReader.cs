using System.Buffers.Binary;
using System.IO.Compression;
using Orchestrator.Spec;

namespace Orchestrator.Trainer.Data;

/// <summary>The payload of one IDX file: unsigned bytes in row-major order and the dimensions from its header.</summary>
/// <param name="Data">Exactly the product of <paramref name="Dims"/> bytes, header stripped.</param>
/// <param name="Dims">Dimension sizes, outermost (sample count) first.</param>
public sealed record IdxFile(byte[] Data, int[] Dims)
{
    /// <summary>Number of samples (the first dimension).</summary>
    public int Count => Dims[0];
}

/// <summary>
/// Reads IDX files (the MNIST / Fashion-MNIST format), gzip-compressed or raw. Only unsigned-byte
/// payloads are accepted, since that is all those datasets use. Every problem with the file is a
/// <see cref="UserFacingException"/> naming it, because a bad dataset file is something the user fixes.
/// </summary>
public static class IdxReader
{
    /// <summary>Magic of an image file: unsigned bytes, 3 dimensions (N, rows, columns).</summary>
    public const int ImagesMagic = 0x00000803;

    /// <summary>Magic of a label file: unsigned bytes, 1 dimension (N).</summary>
    public const int LabelsMagic = 0x00000801;

    /// <summary>Reads an image file (magic 0x00000803).</summary>
    public static IdxFile ReadImages(string path) => Read(path, ImagesMagic, "images");

    /// <summary>Reads a label file (magic 0x00000801).</summary>
    public static IdxFile ReadLabels(string path) => Read(path, LabelsMagic, "labels");

    /// <summary>Reads <paramref name="path"/> and checks its magic equals <paramref name="expectedMagic"/>.</summary>
    /// <param name="kind">What the file should hold, used in the wrong-magic message.</param>
    public static IdxFile Read(string path, int expectedMagic, string kind)
    {
        var bytes = ReadMaybeGzipped(path);
        if (bytes.Length < 4)
            throw new UserFacingException($"{path}: truncated: {bytes.Length} bytes, too short for an IDX header");
        int magic = BinaryPrimitives.ReadInt32BigEndian(bytes);
        if (magic != expectedMagic)
            throw new UserFacingException(
                $"{path}: not an IDX file (magic 0x{magic:x8}; expected 0x{expectedMagic:x8} for {kind})");

        // The low byte of the magic is the number of dimensions; each is a big-endian int32.
        int rank = expectedMagic & 0xff;
        int headerBytes = 4 + 4 * rank;
        if (bytes.Length < headerBytes)
            throw new UserFacingException($"{path}: truncated: {bytes.Length} bytes, header needs {headerBytes}");
        var dims = new int[rank];
        long expected = 1;
        for (int i = 0; i < rank; i++)
        {
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4 + 4 * i));
            if (dims[i] < 0)
                throw new UserFacingException($"{path}: corrupt IDX header (dimension {i} is {dims[i]})");
            expected *= dims[i];
        }

        long found = bytes.Length - headerBytes;
        if (found < expected)
            throw new UserFacingException(
                $"{path}: truncated: header says {string.Join('x', dims)} = {expected} bytes, found {found}");
        if (found > expected)
            throw new UserFacingException(
                $"{path}: corrupt: header says {string.Join('x', dims)} = {expected} bytes, found {found} (trailing data)");

        return new IdxFile(bytes[headerBytes..], dims);
    }

    /// <summary>The file's bytes, gunzipped when it starts with the gzip magic (1f 8b) whatever its name.</summary>
    private static byte[] ReadMaybeGzipped(string path)
    {
        byte[] raw;
        try
        {
            raw = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new UserFacingException($"{path}: file not found", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserFacingException($"{path}: cannot read: {e.Message}", e);
        }

        if (raw.Length < 2 || raw[0] != 0x1f || raw[1] != 0x8b) return raw;
        try
        {
            using var gz = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress);
            using var output = new MemoryStream(raw.Length * 4);
            gz.CopyTo(output);
            return output.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new UserFacingException($"{path}: corrupt gzip data: {e.Message}", e);
        }
    }
}
