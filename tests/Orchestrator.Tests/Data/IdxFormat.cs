using System.Buffers.Binary;
using System.IO.Compression;

namespace Orchestrator.Tests.Data;

/// <summary>Writes IDX files for tests, the inverse of the reader under test.</summary>
internal static class IdxFormat
{
    public static byte[] Encode(int magic, int[] dims, byte[] data)
    {
        var bytes = new byte[4 + 4 * dims.Length + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), dims[i]);
        data.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    public static byte[] Gzip(byte[] raw)
    {
        using var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(raw);
        return output.ToArray();
    }

    public static void WriteImages(string path, byte[][] images, int rows = 28, int cols = 28, bool gzip = false)
    {
        var raw = Encode(0x803, [images.Length, rows, cols], images.SelectMany(i => i).ToArray());
        File.WriteAllBytes(path, gzip ? Gzip(raw) : raw);
    }

    public static void WriteLabels(string path, byte[] labels, bool gzip = false)
    {
        var raw = Encode(0x801, [labels.Length], labels);
        File.WriteAllBytes(path, gzip ? Gzip(raw) : raw);
    }
}
