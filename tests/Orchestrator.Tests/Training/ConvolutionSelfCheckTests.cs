using Orchestrator.Trainer.Devices;
using Orchestrator.Trainer.Models;
using Orchestrator.Trainer.Normalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Tests.Training;

/// <summary>
/// The trainer's CPU convolutions are right for every shape its models use: libtorch 2.10's oneDNN computes
/// convolutions whose channels are not a multiple of the SIMD width wrongly on AVX-512 machines (the cause of
/// runs that diverged to NaN or lost bit-exactness), and the self-check must catch that and fall back.
/// </summary>
public sealed class ConvolutionSelfCheckTests
{
    private static ConvolutionShape Square3x3(long input, long output) => new(input, output, [3, 3], [1, 1], [1, 1], [1, 1], 1);

    [Fact]
    public void A_model_whose_convolutions_oneDNN_gets_wrong_still_trains_with_correct_convolutions()
    {
        // Shapes measured wrong on this project's AMD EPYC VMs: input gradient of 4->8 and 16->8, forward of 24->32.
        var suspects = new[] { Square3x3(4, 8), Square3x3(16, 8), Square3x3(24, 32) };
        using var model = nn.Sequential(
            ("a", nn.Conv2d(4, 8, 3, padding: 1)), ("b", nn.Conv2d(8, 16, 3, padding: 1)),
            ("c", nn.Conv2d(16, 8, 3, padding: 1)), ("d", nn.Conv2d(8, 24, 3, padding: 1)), ("e", nn.Conv2d(24, 32, 3, padding: 1)));

        ConvolutionSelfCheck.EnsureCorrect(model, CPU);

        Assert.Empty(ConvolutionSelfCheck.Failing(suspects));
        Assert.Empty(ConvolutionSelfCheck.Failing(ConvolutionShape.Of(model)));
    }

    [Fact]
    public void The_check_compares_against_float64_so_a_wrong_kernel_cannot_agree_with_itself()
    {
        // With oneDNN still on (a fresh process on a good CPU, or before any fallback) the check must pass for
        // shapes oneDNN handles right everywhere we measured; either way the result must agree with a
        // direct float64 comparison of the same convolution.
        var shape = Square3x3(16, 32);
        using var generator = new Generator(3);
        var x = randn([2, 16, 9, 9], dtype: ScalarType.Float64, generator: generator);
        var w = randn([32, 16, 3, 3], dtype: ScalarType.Float64, generator: generator);
        var reference = nn.functional.conv2d(x, w, padding: [1, 1]);
        var single = nn.functional.conv2d(x.to(ScalarType.Float32), w.to(ScalarType.Float32), padding: [1, 1]).to(ScalarType.Float64);
        bool directlyClose = (single - reference).abs().max().item<double>() <= 1e-3 * reference.abs().max().item<double>();

        Assert.Equal(directlyClose, ConvolutionSelfCheck.Failing([shape]).Count == 0);
    }

    [Fact]
    public void A_model_lists_each_convolution_shape_once_with_its_stride_and_padding()
    {
        using var cnn = new SmallCnn(new ModelInput(1, 12, 12, 10), 4, new BatchNormFactory());
        Assert.Equal(["1->4 3x3 pad 1x1", "4->8 3x3 pad 1x1"], ConvolutionShape.Of(cnn).Select(s => s.ToString()));

        using var resnet = new ResNet(new ModelInput(3, 8, 8, 10), 20, 4, new BatchNormFactory());
        var shapes = ConvolutionShape.Of(resnet).Select(s => s.ToString()).ToList();
        Assert.Equal(shapes.Distinct().Count(), shapes.Count);
        Assert.Contains("4->8 3x3 stride 2x2 pad 1x1", shapes);
    }

    [Fact]
    public void A_model_without_convolutions_or_on_another_device_needs_no_check()
    {
        using var mlp = nn.Sequential(("fc", nn.Linear(4, 3)));
        Assert.Empty(ConvolutionShape.Of(mlp));
        Assert.Null(ConvolutionSelfCheck.EnsureCorrect(mlp, CPU));
        using var cnn = new SmallCnn(new ModelInput(1, 12, 12, 10), 4, new BatchNormFactory());
        Assert.Null(ConvolutionSelfCheck.EnsureCorrect(cnn, new Device(DeviceType.CUDA, 0)));
    }
}
