using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Data;

/// <summary>Resizes a batch [N, C, H, W] to a square side for mixed-size training (bilinear, antialiased when shrinking).</summary>
public static class ImageResizer
{
    public static Tensor Resize(Tensor images, int size)
    {
        if (images.shape[2] == size && images.shape[3] == size) return images;
        bool shrinking = size < images.shape[2];
        return nn.functional.interpolate(images, [size, size], mode: InterpolationMode.Bilinear, align_corners: false, antialias: shrinking);
    }
}
