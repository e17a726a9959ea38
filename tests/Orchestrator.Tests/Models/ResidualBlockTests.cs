using Orchestrator.Trainer.Models;
using Orchestrator.Trainer.Normalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Tests.Models;

/// <summary>
/// The residual block writes ReLU and the shortcut's add into its normalizations' outputs (torchvision's habit, two fewer
/// activation-sized tensors a block); autograd must give exactly what the out-of-place formula gives.
/// </summary>
public sealed class ResidualBlockTests
{
    // float64 keeps ghost batch norm off its fused float32 kernels: per-chunk batch norm with several threads, the folded
    // generic path (a reshaped view as output) with one.
    public static TheoryData<string, long, long, long, bool> Blocks() => new()
    {
        { "batch", 4, 8, 2, false },
        { "batch", 8, 8, 1, false },
        { "ghost_batch", 8, 8, 1, false },
        { "ghost_batch", 4, 8, 2, false },
        { "ghost_batch", 4, 8, 2, true },
        { "range_batch", 8, 8, 1, false },
        { "none", 4, 8, 2, false },
    };

    [Theory]
    [MemberData(nameof(Blocks))]
    public void The_block_computes_the_out_of_place_formula_and_its_gradients(string norm, long inChannels, long outChannels, long stride, bool float64)
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        INormalizationFactory norms = norm switch
        {
            "batch" => new BatchNormFactory(),
            "ghost_batch" => new GhostBatchNormFactory(4),
            "range_batch" => new RangeBatchNormFactory(),
            _ => new IdentityNormFactory(),
        };
        var block = new ResidualBlock(inChannels, outChannels, stride, norms);
        var dtype = float64 ? ScalarType.Float64 : ScalarType.Float32;
        block.to(dtype).train();
        var x = randn(8, inChannels, 6, 6, dtype);
        var probe = randn(8, outChannels, 6 / stride, 6 / stride, dtype);

        var (output, grads) = OutputAndGradients(block, x, probe, b => b.forward);
        var (reference, referenceGrads) = OutputAndGradients(block, x, probe, OutOfPlace);

        Assert.True(Values(output).SequenceEqual(Values(reference)), "outputs differ");
        Assert.Equal(referenceGrads.Count, grads.Count);
        for (int i = 0; i < grads.Count; i++)
            Assert.True(grads[i].SequenceEqual(referenceGrads[i]), $"gradient {i} differs");
        Assert.Contains(grads[0], v => v != 0); // the input's gradient reached it
    }

    private static Func<Tensor, Tensor> OutOfPlace(ResidualBlock block)
    {
        var parts = block.named_children().ToDictionary(c => c.name, c => (nn.Module<Tensor, Tensor>)c.module);
        return x =>
        {
            var y = nn.functional.relu(parts["norm1"].call(parts["conv1"].call(x)));
            y = parts["norm2"].call(parts["conv2"].call(y));
            var shortcut = parts.TryGetValue("projection", out var projection) ? projection.call(x) : x;
            return nn.functional.relu(y + shortcut);
        };
    }

    private static double[] Values(Tensor t)
    {
        using var values = t.to(ScalarType.Float64);
        return values.data<double>().ToArray();
    }

    private static (Tensor Output, List<double[]> Gradients) OutputAndGradients(ResidualBlock block, Tensor x, Tensor probe,
        Func<ResidualBlock, Func<Tensor, Tensor>> forward)
    {
        block.zero_grad();
        var input = x.detach().requires_grad_(true);
        var output = forward(block)(input);
        (output * probe).sum().backward();
        var grads = new List<double[]> { Values(input.grad!) };
        grads.AddRange(block.parameters().Select(p => Values(p.grad!)));
        return (output.detach(), grads);
    }
}
