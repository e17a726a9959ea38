using Orchestrator.Trainer.Devices;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Tests.Training;

/// <summary>
/// Strided 1x1 convolutions at widths oneDNN's own kernel corrupts the heap with run on the subsampled input and give
/// what <c>conv2d</c> gives, in the input's layout; every other shape is left to <c>conv2d</c>.
/// </summary>
public sealed class StridedPointwiseConvolutionTests
{
    private static ConvolutionShape Shape(long input, long output, long kernel, long stride, long padding) =>
        new(input, output, [kernel, kernel], [stride, stride], [padding, padding], [1, 1], 1);

    [Theory]
    [InlineData(4, 8, 1, 2, 0, true)]
    [InlineData(8, 16, 1, 2, 0, true)]
    [InlineData(24, 48, 1, 2, 0, true)]
    [InlineData(16, 32, 1, 2, 0, false)] // multiples of 16: oneDNN's kernel is clean and faster
    [InlineData(4, 8, 1, 1, 0, false)]   // no stride
    [InlineData(4, 8, 3, 2, 1, false)]   // not 1x1
    [InlineData(4, 8, 1, 2, 1, false)]   // padded: the subsampled input would miss the border
    public void Only_strided_unpadded_1x1_convolutions_at_small_widths_are_subsampled(long input, long output, long kernel, long stride, long padding, bool expected) =>
        Assert.Equal(expected, StridedPointwiseConvolution.Subsamples(Shape(input, output, kernel, stride, padding)));

    [Theory]
    [InlineData(false, 28)]
    [InlineData(true, 28)]
    [InlineData(true, 15)]
    public void A_subsampled_convolution_computes_what_conv2d_computes_in_the_input_layout(bool channelsLast, long size)
    {
        using var scope = NewDisposeScope();
        var shape = Shape(4, 8, 1, 2, 0);
        using var generator = new Generator(11);
        var x64 = randn([3, 4, size, size], dtype: ScalarType.Float64, generator: generator);
        var w64 = randn([8, 4, 1, 1], dtype: ScalarType.Float64, generator: generator);
        var b = randn([8], generator: generator).requires_grad_();
        var reference = nn.functional.conv2d(x64, w64, b.detach().to(ScalarType.Float64), [2, 2]);

        var x = (channelsLast ? ChannelsLast.Of(x64.to(ScalarType.Float32)) : x64.to(ScalarType.Float32)).detach().requires_grad_();
        var w = w64.to(ScalarType.Float32).requires_grad_();
        var y = StridedPointwiseConvolution.Conv2d(x, w, b, shape);
        Assert.Equal(reference.shape, y.shape);
        Assert.Equal(channelsLast, ChannelsLast.Is(y) && !y.is_contiguous());
        Assert.True(y.to(ScalarType.Float64).allclose(reference, rtol: 1e-5, atol: 1e-5));

        // Gradients: each input pixel the stride skips gets zero; the kept ones get W^T times the upstream gradient.
        var upstream = randn(y.shape, generator: generator);
        y.backward([upstream]);
        var skipped = ones_like(x.grad!);
        skipped[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(step: 2), TensorIndex.Slice(step: 2)] = zeros(1);
        Assert.Equal(0.0, (x.grad! * skipped).abs().sum().item<float>());
        var kept = x.grad![TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(step: 2), TensorIndex.Slice(step: 2)];
        var expectedKept = einsum("nohw,oi->nihw", upstream, w.detach().squeeze(-1).squeeze(-1));
        Assert.True(kept.allclose(expectedKept, rtol: 1e-4, atol: 1e-5));
        Assert.True(b.grad!.allclose(upstream.sum([0, 2, 3]), rtol: 1e-4, atol: 1e-4));
    }
}
