using static TorchSharp.torch;

namespace Orchestrator.Trainer.Devices;

/// <summary>
/// The channels-last (NHWC in memory) layout of 4-d tensors. TorchSharp 0.107 exposes no memory-format argument, so the
/// layout is made by a permuted copy and recognised by its strides.
/// </summary>
public static class ChannelsLast
{
    /// <summary>The values of <paramref name="t"/> ([N, C, H, W]) as a channels-last tensor of the same shape
    /// (differentiable; a copy unless it already is one).</summary>
    public static Tensor Of(Tensor t)
    {
        using var nhwc = t.permute(0, 2, 3, 1).contiguous();
        return nhwc.permute(0, 3, 1, 2);
    }

    /// <summary>Whether <paramref name="t"/> is a dense channels-last 4-d tensor.</summary>
    public static bool Is(Tensor t)
    {
        if (t.dim() != 4) return false;
        var (shape, stride) = (t.shape, t.stride());
        long c = shape[1], h = shape[2], w = shape[3];
        return stride[1] == 1 && stride[3] == c && stride[2] == w * c && stride[0] == h * w * c;
    }
}
