using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Devices;

/// <summary>
/// Checks that this process's float32 CPU convolutions compute what they should, shape by shape, before a
/// model trains with them, and falls back to ATen's native kernels when they do not.
/// </summary>
/// <remarks>
/// Why: the oneDNN build inside libtorch 2.10 (TorchSharp 0.107) gives wrong results on AVX-512 machines such as
/// this project's AMD EPYC VMs whenever the channels a kernel reduces over are not a multiple of the SIMD width: the
/// input gradient of a 4->8 or 16->8 3x3 convolution is off by the size of the gradient itself, and reads
/// uninitialized memory (so identical runs diverge, sometimes to NaN); the forward pass of 24->32 is wrong too.
/// Measured in ConvolutionSelfCheckTests. The native kernels are right but about 1.6x slower on the
/// example CNN, so they are used only when a shape of the model actually fails here.
/// Shapes with more than one input channel are checked in both memory orders (NCHW and channels-last, which the models'
/// <c>ChannelsLastConv2d</c> runs on the CPU); a shape fails if either order does.
/// The reference is the same computation in float64, which libtorch never sends to oneDNN, so the check
/// needs no switching back and forth.
/// </remarks>
public static class ConvolutionSelfCheck
{
    private const double Tolerance = 1e-3;

    /// <summary>The shapes among <paramref name="shapes"/> whose float32 forward, input gradient or weight
    /// gradient differs from float64 by more than 1e-3 of the result's magnitude (or is not finite).</summary>
    public static IReadOnlyList<ConvolutionShape> Failing(IEnumerable<ConvolutionShape> shapes) =>
        shapes.Where(s => !Agrees(s)).ToList();

    /// <summary>
    /// On the CPU, when oneDNN computes some convolution of <paramref name="model"/> wrongly: switches this
    /// process to the native kernels and returns a notice for the user; otherwise null.
    /// </summary>
    public static string? EnsureCorrect(nn.Module model, Device device)
    {
        if (device.type != DeviceType.CPU || !CpuConvolutionBackend.UsesOneDnn) return null;
        CpuConvolutionBackend.SkipNnpack(); // the float64 reference runs on the native path
        var failing = Failing(ConvolutionShape.Of(model));
        if (failing.Count == 0) return null;
        var shapes = string.Join(", ", failing);
        return CpuConvolutionBackend.TryUseNative()
            ? $"oneDNN computes the convolution(s) {shapes} wrongly on this CPU; this worker uses libtorch's native convolution kernels instead (correct, slower)"
            : $"oneDNN computes the convolution(s) {shapes} wrongly on this CPU and libtorch's switch to the native kernels was not found: results of this run are not reliable";
    }

    private static bool Agrees(ConvolutionShape shape)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(0x5eed);
        const long batch = 4;
        // Big enough for the kernel to cover several output positions at every stride.
        var size = shape.Kernel.Select((k, i) => shape.Dilation[i] * (k - 1) + 1 + 3 * shape.Stride[i] + 4).ToArray();
        var outSize = size.Select((n, i) => (n + 2 * shape.Padding[i] - shape.Dilation[i] * (shape.Kernel[i] - 1) - 1) / shape.Stride[i] + 1).ToArray();
        var x = randn([batch, shape.InChannels, .. size], dtype: ScalarType.Float64, generator: generator);
        var w = randn([shape.OutChannels, shape.InChannels / shape.Groups, .. shape.Kernel], dtype: ScalarType.Float64, generator: generator);
        var upstream = randn([batch, shape.OutChannels, .. outSize], dtype: ScalarType.Float64, generator: generator);
        var (y64, gx64, gw64) = ForwardBackward(shape, x, w, upstream, channelsLast: false);
        // Both memory orders the models use (ChannelsLastConv2d): oneDNN runs different kernels for each.
        foreach (bool channelsLast in shape.InChannels > 1 ? [false, true] : new[] { false })
        {
            var (y32, gx32, gw32) = ForwardBackward(shape, x.to(ScalarType.Float32), w.to(ScalarType.Float32), upstream.to(ScalarType.Float32), channelsLast);
            if (!(Close(y32, y64) && Close(gx32, gx64) && Close(gw32, gw64))) return false;
        }
        return true;
    }

    private static (Tensor y, Tensor gradInput, Tensor gradWeight) ForwardBackward(ConvolutionShape shape, Tensor x, Tensor w, Tensor upstream, bool channelsLast)
    {
        var input = (channelsLast ? ChannelsLast.Of(x) : x.clone()).detach().requires_grad_();
        var weight = w.detach().clone().requires_grad_();
        // The call the models make, so a shape is checked as it will run (and never through a kernel they avoid).
        var y = StridedPointwiseConvolution.Conv2d(input, channelsLast ? ChannelsLast.Of(weight) : weight, null, shape);
        y.backward([upstream]);
        return (y.detach(), input.grad!, weight.grad!);
    }

    private static bool Close(Tensor actual, Tensor reference)
    {
        double error = (actual.to(ScalarType.Float64) - reference).abs().max().item<double>();
        double scale = reference.abs().max().item<double>();
        return error <= Tolerance * Math.Max(scale, 1e-12); // false for NaN
    }
}
