using Orchestrator.Trainer.Data;
using SkiaSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.PostTraining.Calibration;

/// <summary>
/// A picture of model inputs: images side by side in a near-square grid, each enlarged by a whole factor so small
/// images stay visible (<see cref="Scale"/>), <see cref="Gap"/> background pixels around and between them. Inputs are
/// turned back into pixels with the dataset's channel statistics when known (x std + mean, clamped to [0, 1]), else
/// each image is stretched from its own minimum to its maximum. One channel is grey, three are RGB; other channel counts
/// show their first channel.
/// </summary>
public static class ImageGrid
{
    /// <summary>Background pixels around and between images.</summary>
    public const int Gap = 2;

    /// <summary>The enlargement of an image of <paramref name="height"/> x <paramref name="width"/> pixels: max(1,
    /// floor(64 / max(height, width))), so the picture shows each image at least about 64 pixels wide.</summary>
    public static int Scale(int height, int width) => Math.Max(1, 64 / Math.Max(height, width));

    /// <summary>Columns and rows of a grid of <paramref name="count"/> images: ceil(sqrt(count)) columns.</summary>
    public static (int Columns, int Rows) Layout(int count)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "need at least one image");
        int columns = (int)Math.Ceiling(Math.Sqrt(count));
        return (columns, (count + columns - 1) / columns);
    }

    /// <summary>The picture of <paramref name="images"/> ([N, C, H, W]) as RGBA bytes, row-major, with its size.</summary>
    public static (byte[] Rgba, int Width, int Height) Render(Tensor images, ChannelStats? pixelStats)
    {
        if (images.dim() != 4) throw new ArgumentException($"need [N, C, H, W] images, got {images.dim()} dims", nameof(images));
        int count = (int)images.shape[0], channels = (int)images.shape[1], h = (int)images.shape[2], w = (int)images.shape[3];
        if (pixelStats is not null && pixelStats.Mean.Length != channels)
            throw new ArgumentException($"channel statistics for {pixelStats.Mean.Length} channels, images have {channels}", nameof(pixelStats));
        var (columns, rows) = Layout(count);
        int scale = Scale(h, w), cellW = w * scale, cellH = h * scale;
        int width = columns * cellW + (columns + 1) * Gap, height = rows * cellH + (rows + 1) * Gap;
        var pixels = Bytes(images, pixelStats); // [N, C, H, W] in 0..255
        int shown = channels == 3 ? 3 : 1;
        var rgba = new byte[width * height * 4];
        for (int i = 0; i < rgba.Length; i += 4) (rgba[i], rgba[i + 1], rgba[i + 2], rgba[i + 3]) = ((byte)255, (byte)255, (byte)255, (byte)255);
        for (int n = 0; n < count; n++)
        {
            int left = Gap + n % columns * (cellW + Gap), top = Gap + n / columns * (cellH + Gap);
            for (int y = 0; y < cellH; y++)
            {
                for (int x = 0; x < cellW; x++)
                {
                    int o = ((top + y) * width + left + x) * 4;
                    for (int c = 0; c < 3; c++)
                        rgba[o + c] = pixels[((n * channels + (shown == 3 ? c : 0)) * h + y / scale) * w + x / scale];
                }
            }
        }
        return (rgba, width, height);
    }

    /// <summary>Writes the picture of <paramref name="images"/> to <paramref name="path"/> as PNG (through a temporary
    /// file, so a reader never sees half a picture).</summary>
    public static void WritePng(string path, Tensor images, ChannelStats? pixelStats)
    {
        var (rgba, width, height) = Render(images, pixelStats);
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        System.Runtime.InteropServices.Marshal.Copy(rgba, 0, bitmap.GetPixels(), rgba.Length);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100)
            ?? throw new InvalidOperationException("SkiaSharp could not encode the picture as PNG");
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        using (var file = File.Create(temporary)) data.SaveTo(file);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>[N, C, H, W] images as bytes 0..255 in the same order.</summary>
    private static byte[] Bytes(Tensor images, ChannelStats? pixelStats)
    {
        using var scope = NewDisposeScope();
        var x = images.detach().to(ScalarType.Float32, CPU);
        Tensor unit;
        if (pixelStats is not null)
        {
            var std = tensor(pixelStats.Std).view(1, -1, 1, 1);
            var mean = tensor(pixelStats.Mean).view(1, -1, 1, 1);
            unit = (x * std + mean).clamp(0, 1);
        }
        else
        {
            var flat = x.reshape(x.shape[0], -1);
            var low = flat.amin([1], keepdim: true);
            var range = flat.amax([1], keepdim: true) - low;
            // A constant image (range 0) is shown mid-grey rather than dividing by zero.
            unit = where(range > 0, (flat - low) / range.clamp_min(1e-30), full_like(flat, 0.5)).view(x.shape);
        }
        var bytes = (unit * 255).round().to(ScalarType.Byte).contiguous();
        var result = new byte[bytes.NumberOfElements];
        bytes.bytes.CopyTo(result);
        return result;
    }
}
