using Orchestrator.Trainer.Devices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Models;

/// <summary>
/// A 2-d convolution (zero padding, TorchSharp's <c>Conv2d</c> parameters, initialization and state-dict names) that on
/// the CPU hands oneDNN its weight in channels-last (NHWC) order, so the convolution computes and returns a
/// channels-last activation instead of reordering oneDNN's result into a fresh NCHW tensor after every call.
/// </summary>
/// <remarks>
/// Why: with NCHW weights libtorch's oneDNN path computes into a blocked buffer and then copies it out
/// (<c>mkldnn_to_dense</c>): a full extra pass over every conv output and fresh pages each step. With a channels-last
/// weight oneDNN works in NHWC and writes the output directly; later layers (batch norm, ReLU, adds, the next
/// convolutions) keep that layout. A bare resnet20 step at batch 256 went from 296-333 to 249-265 ms on this
/// project's 2-core VMs. Only the view handed to the kernel is channels-last: the parameter itself stays a plain
/// contiguous tensor, so checkpoints, gradient buckets and parameter broadcasts see exactly what they saw before (the
/// weight's reordered copy costs one pass over the weights per step, and autograd routes its gradient back).
/// A single-channel input (a stem on grayscale images) is convolved with the plain NCHW weight, and its output is then
/// reordered to channels-last once, so the stem's normalization, ReLU and pooling and everything after run NHWC as they
/// do in PyTorch's <c>model.to(memory_format=channels_last)</c>: one copy instead of the next convolution reordering its
/// input and of mixed-layout elementwise kernels (a bare step 25-33% faster on the example CNN, 3-4% on resnet20, this
/// project's 2-core VM). Why not a channels-last weight there: with one input channel the permuted weight is already
/// "contiguous", and forcing channels-last strides onto it ran oneDNN's NHWC kernel with C_in = 1, which corrupted
/// the heap in 3 of 4 test runs with libtorch 2.10 (see <see cref="ConvolutionSelfCheck"/> for its kin).
/// A strided 1x1 convolution at small widths goes through <see cref="StridedPointwiseConvolution"/> (a oneDNN heap
/// corruption). A 1x1 weight has the same strides in both orders, so libtorch lays such an output out as the input:
/// an NCHW input to a 1x1 convolution is reordered first.
/// Other devices keep NCHW (cuDNN's choice of layout is left to cuDNN).
/// </remarks>
public sealed class ChannelsLastConv2d : Convolution
{
    /// <summary>A convolution with a square kernel, as <c>nn.Conv2d(inChannels, outChannels, kernel, stride, padding, bias)</c>.</summary>
    public ChannelsLastConv2d(long inChannels, long outChannels, long kernel, long stride = 1, long padding = 0, bool bias = true)
        : base("Conv2d", inChannels, outChannels, [kernel, kernel], [stride, stride], [padding, padding], null, [1, 1], false, [0, 0], 1, bias, PaddingModes.Zeros)
    {
        shape = ConvolutionShape.From(this);
    }

    private readonly ConvolutionShape shape;

    private bool IsPointwise => shape.Kernel.All(k => k == 1);

    /// <summary>Whether <see cref="forward"/> would hand the kernel a channels-last weight for <paramref name="input"/>.</summary>
    public bool UsesChannelsLast(Tensor input) => ReturnsChannelsLast(input) && in_channels > 1;

    /// <summary>Whether <see cref="forward"/> returns a channels-last activation for <paramref name="input"/> (every CPU input).</summary>
    public static bool ReturnsChannelsLast(Tensor input) => input.device_type == DeviceType.CPU;

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        if (!ValidateShape(input, 2))
            throw new ArgumentException($"a 2-d convolution takes [N, {in_channels}, H, W] input, got [{string.Join(", ", input.shape)}]");
        if (!ReturnsChannelsLast(input))
            return nn.functional.conv2d(input, weight, bias, stride, padding, dilation, groups);
        if (!UsesChannelsLast(input))
        {
            using var nchw = nn.functional.conv2d(input, weight, bias, stride, padding, dilation, groups);
            return ChannelsLast.Of(nchw);
        }
        using var nhwc = ChannelsLast.Of(weight!);
        using var reordered = IsPointwise && !ChannelsLast.Is(input) ? ChannelsLast.Of(input) : null; // see remarks
        return StridedPointwiseConvolution.Conv2d(reordered ?? input, nhwc, bias, shape);
    }
}
