using Orchestrator.Spec;
using Orchestrator.Trainer.Data;

namespace Orchestrator.Tests.Data;

public class IdxReaderTests
{
    private static byte[] Pixels(int count) => Enumerable.Range(0, count).Select(i => (byte)(i * 7)).ToArray();

    [Theory]
    [InlineData(false, "images")]
    [InlineData(true, "images.gz")]
    [InlineData(true, "images-named-without-gz-suffix")]
    public void ReadsRawAndGzippedImages(bool gzip, string name)
    {
        using var dir = new TempDirectory();
        var data = Pixels(3 * 28 * 28);
        var raw = IdxFormat.Encode(0x803, [3, 28, 28], data);
        File.WriteAllBytes(dir.File(name), gzip ? IdxFormat.Gzip(raw) : raw);

        var idx = IdxReader.ReadImages(dir.File(name));

        Assert.Equal([3, 28, 28], idx.Dims);
        Assert.Equal(3, idx.Count);
        Assert.Equal(data, idx.Data);
    }

    [Fact]
    public void ReadsLabels()
    {
        using var dir = new TempDirectory();
        IdxFormat.WriteLabels(dir.File("labels"), [3, 1, 4, 1, 5], gzip: true);

        var idx = IdxReader.ReadLabels(dir.File("labels"));

        Assert.Equal([5], idx.Dims);
        Assert.Equal(new byte[] { 3, 1, 4, 1, 5 }, idx.Data);
    }

    [Fact]
    public void MissingFileNamesIt()
    {
        using var dir = new TempDirectory();
        var path = dir.File("nope-idx3-ubyte");
        var e = Assert.Throws<UserFacingException>(() => IdxReader.ReadImages(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void WrongMagicSaysWhatWasExpected()
    {
        using var dir = new TempDirectory();
        IdxFormat.WriteLabels(dir.File("labels"), [1, 2]);
        var e = Assert.Throws<UserFacingException>(() => IdxReader.ReadImages(dir.File("labels")));
        Assert.Equal($"{dir.File("labels")}: not an IDX file (magic 0x00000801; expected 0x00000803 for images)", e.Message);
    }

    [Fact]
    public void TruncatedPayloadReportsSizes()
    {
        using var dir = new TempDirectory();
        var raw = IdxFormat.Encode(0x803, [3, 28, 28], Pixels(2000));
        File.WriteAllBytes(dir.File("images.gz"), IdxFormat.Gzip(raw));
        var e = Assert.Throws<UserFacingException>(() => IdxReader.ReadImages(dir.File("images.gz")));
        Assert.Equal($"{dir.File("images.gz")}: truncated: header says 3x28x28 = 2352 bytes, found 2000", e.Message);
    }

    [Fact]
    public void TruncatedHeaderIsReported()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("images"), IdxFormat.Encode(0x803, [3, 28, 28], [])[..10]);
        var e = Assert.Throws<UserFacingException>(() => IdxReader.ReadImages(dir.File("images")));
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void CorruptGzipIsReported()
    {
        using var dir = new TempDirectory();
        var gz = IdxFormat.Gzip(IdxFormat.Encode(0x803, [3, 28, 28], Pixels(3 * 28 * 28)));
        for (int i = 10; i < gz.Length; i++) gz[i] ^= 0x5a; // keep the gzip header, scramble the deflate stream
        File.WriteAllBytes(dir.File("images.gz"), gz);
        var e = Assert.Throws<UserFacingException>(() => IdxReader.ReadImages(dir.File("images.gz")));
        Assert.StartsWith(dir.File("images.gz") + ": ", e.Message);
        Assert.Contains("gzip", e.Message);
    }
}
