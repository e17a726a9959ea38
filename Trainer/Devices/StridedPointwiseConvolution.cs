using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Devices;

/// <summary>
/// A CPU 2-d convolution that never runs oneDNN's strided 1x1 kernel at widths it mishandles: such a convolution (a
/// residual block's projection) is computed as the 1x1 stride-1 convolution of the input's every stride-th row and
/// column, the same products and sums.
/// </summary>
/// <remarks>
/// Why: with libtorch 2.10 on this project's AVX-512 VMs the backward of oneDNN's strided 1x1 channels-last kernel writes
/// outside its buffers when a channel count is not a multiple of 16 (the AVX-512 float width): a 4->8 projection of a
/// [3, 4, 28, 28] input corrupted the heap in every run ("double free or corruption"), 8->16 too. No value check sees
/// it, so <see cref="ConvolutionSelfCheck"/> cannot. 16->32 and 32->64 were clean and keep oneDNN's kernel, which is
/// faster (a [256, 16, 32, 32] projection's forward and backward took 9-13 ms against 17-18 ms subsampled).
/// </remarks>
public static class StridedPointwiseConvolution
{
    private const long SimdFloats = 16;

    /// <summary>Whether a CPU convolution of <paramref name="shape"/> is computed on the subsampled input.</summary>
    public static bool Subsamples(ConvolutionShape shape) =>
        shape.Kernel.All(k => k == 1) && shape.Stride.Any(s => s > 1) && shape.Padding.All(p => p == 0)
        && shape.Dilation.All(d => d == 1) && shape.Groups == 1
        && (shape.InChannels % SimdFloats != 0 || shape.OutChannels % SimdFloats != 0);

    /// <summary><c>conv2d(input, weight, bias)</c> with <paramref name="shape"/>'s stride, padding, dilation and groups; see the class remarks.</summary>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias, ConvolutionShape shape)
    {
        if (input.device_type != DeviceType.CPU || !Subsamples(shape))
            return nn.functional.conv2d(input, weight, bias, shape.Stride, shape.Padding, shape.Dilation, shape.Groups);
        using var picked = input[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(step: shape.Stride[0]), TensorIndex.Slice(step: shape.Stride[1])];
        // The subsampled view keeps the input's layout in a dense copy (a 1x1 weight's strides fit both orders, so the
        // output follows the input's).
        using var dense = ChannelsLast.Is(input) ? ChannelsLast.Of(picked) : picked.contiguous();
        return nn.functional.conv2d(dense, weight, bias, [1, 1], [0, 0], shape.Dilation, shape.Groups);
    }
}
