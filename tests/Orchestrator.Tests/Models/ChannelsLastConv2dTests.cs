using Orchestrator.Trainer.Devices;
using Orchestrator.Trainer.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Tests.Models;

/// <summary>
/// The models' convolution: the same layer as TorchSharp's Conv2d (initialization, state-dict names, values and
/// gradients) that computes channels-last on the CPU while its parameters stay plain contiguous tensors.
/// </summary>
[Collection(SeededConstructionCollection.Name)]
public sealed class ChannelsLastConv2dTests
{
    [Fact]
    public void It_initializes_and_names_its_parameters_as_torch_conv2d()
    {
        manual_seed(21);
        using var reference = nn.Conv2d(16, 32, 3, stride: 2, padding: 1);
        manual_seed(21);
        using var conv = new ChannelsLastConv2d(16, 32, 3, stride: 2, padding: 1);
        Assert.Equal(reference.state_dict().Keys, conv.state_dict().Keys);
        Assert.True(reference.weight!.eq(conv.weight!).all().item<bool>());
        Assert.True(reference.bias!.eq(conv.bias!).all().item<bool>());
        Assert.Equal(reference.stride, conv.stride);
        Assert.Equal(reference.padding, conv.padding);
    }

    [Theory]
    [InlineData(16, 32, 3, 1, true, 6, 10)]
    [InlineData(32, 16, 3, 2, false, 6, 10)]
    [InlineData(1, 16, 3, 1, false, 6, 10)]
    // Residual projections (1x1, stride 2), odd and even sizes; the first two shapes' backward in oneDNN's own strided
    // kernel corrupted the heap or came out wrong (remarks of ChannelsLastConv2d), so a regression fails or crashes here.
    [InlineData(4, 8, 1, 2, false, 3, 28)]
    [InlineData(8, 16, 1, 2, true, 3, 15)]
    [InlineData(16, 32, 1, 2, false, 4, 17)] // widths oneDNN's strided kernel keeps
    public void It_computes_what_torch_conv2d_computes_with_a_channels_last_output(long inChannels, long outChannels, long kernel, long stride, bool bias, long batch, long size)
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        long padding = kernel / 2;
        var reference = nn.Conv2d(inChannels, outChannels, kernel, stride: stride, padding: padding, bias: bias);
        var conv = new ChannelsLastConv2d(inChannels, outChannels, kernel, stride, padding, bias);
        using (no_grad()) conv.weight!.copy_(reference.weight!);
        if (bias) using (no_grad()) conv.bias!.copy_(reference.bias!);
        using var generator = new Generator(8);
        var x = randn([batch, inChannels, size, size], generator: generator);
        var xa = x.clone().requires_grad_();
        var xb = x.clone().requires_grad_();
        var upstream = randn(reference.call(x).shape, generator: generator);

        var expected = reference.call(xa);
        var actual = conv.call(xb);
        Assert.True(ChannelsLast.Is(actual) && !actual.is_contiguous(), "a CPU convolution returns channels-last");
        (expected * upstream).sum().backward();
        (actual * upstream).sum().backward();

        // Float32 results of two kernels that sum in different orders: equal to a few ulps of the magnitudes.
        static void Close(Tensor a, Tensor b, string what) =>
            Assert.True(a.allclose(b, rtol: 1e-4, atol: 1e-5), $"{what}: max difference {(a - b).abs().max().item<float>()}");
        Close(expected, actual, "output");
        Close(xa.grad!, xb.grad!, "input gradient");
        Close(reference.weight!.grad!, conv.weight!.grad!, "weight gradient");
        if (bias) Close(reference.bias!.grad!, conv.bias!.grad!, "bias gradient");
        Assert.True(conv.weight!.is_contiguous() && conv.weight.grad!.shape.SequenceEqual(conv.weight.shape));
    }

    [Fact]
    public void A_single_channel_input_is_convolved_with_the_nchw_weight_and_its_output_reordered_to_channels_last()
    {
        using var conv = new ChannelsLastConv2d(1, 8, 3, padding: 1);
        using var x = randn(2, 1, 6, 6);
        using var y = conv.call(x);
        Assert.False(conv.UsesChannelsLast(x)); // oneDNN's NHWC kernel with one input channel is not trusted (remarks)
        Assert.True(ChannelsLastConv2d.ReturnsChannelsLast(x));
        Assert.True(ChannelsLast.Is(y) && !y.is_contiguous());
    }

    [Fact]
    public void Its_parameters_stay_contiguous_through_training_so_a_saved_model_loads_back_exactly()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var model = nn.Sequential(("a", new ChannelsLastConv2d(4, 8, 3, 1, 1)), ("b", new ChannelsLastConv2d(8, 8, 3, 1, 1)));
        var optimizer = optim.SGD(model.parameters(), 0.1, momentum: 0.9);
        for (int step = 0; step < 3; step++)
        {
            optimizer.zero_grad();
            model.call(randn(4, 4, 8, 8)).square().mean().backward();
            optimizer.step();
        }
        Assert.All(model.parameters(), p => Assert.True(p.is_contiguous()));

        var saved = new MemoryStream();
        model.save(saved); // closes the stream
        using var stream = new MemoryStream(saved.ToArray());
        manual_seed(99);
        var restored = nn.Sequential(("a", new ChannelsLastConv2d(4, 8, 3, 1, 1)), ("b", new ChannelsLastConv2d(8, 8, 3, 1, 1)));
        restored.load(stream);
        foreach (var (name, p) in model.named_parameters())
            Assert.True(p.eq(restored.get_parameter(name)!).all().item<bool>(), name);
    }
}
