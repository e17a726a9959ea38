using Orchestrator.Spec;
using Orchestrator.Trainer.LowPrecision;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Tests.LowPrecision;

/// <summary>
/// A low-precision layer's weight gradient. With MVUE-pruned output gradients it equals the dense gradient in expectation
/// (dW is linear in the output gradient); each step's draws are new (BeginStep), so K steps give K independent samples,
/// whose mean must lie within 6 standard errors (from the samples themselves) of the dense gradient. With bifurcation
/// the weight gradient takes the unquantized output gradient.
/// </summary>
public sealed class LayerGradientTests
{
    private const int Steps = 600;

    private static (LowPrecisionLayer Layer, Tensor Input, Tensor Upstream) Conv(LowPrecisionTraining lowPrecision)
    {
        torch.random.manual_seed(4);
        var layer = (LowPrecisionLayer)lowPrecision.LayerFactory.Conv2d(3, 8, 3, padding: 1, bias: true);
        layer.train();
        using var generator = new Generator(8);
        return (layer, randn([4, 3, 6, 6], generator: generator), randn([4, 8, 6, 6], generator: generator));
    }

    private static (Tensor Weight, Tensor Input) Gradients(LowPrecisionLayer layer, Tensor input, Tensor upstream)
    {
        var x = input.detach().requires_grad_(true);
        var y = layer.call(x);
        var grads = autograd.grad([y.mul(upstream).sum()], [layer.Weight, x]);
        return (grads[0].detach(), grads[1].detach());
    }

    private static Tensor DenseWeightGradient(LowPrecisionLayer layer, Tensor input, Tensor upstream)
    {
        var w = layer.Weight.detach().requires_grad_(true);
        var y = nn.functional.conv2d(input, w, layer.Bias!.detach(), padding: [1, 1]);
        return autograd.grad([y.mul(upstream).sum()], [w])[0].detach();
    }

    [Theory]
    [InlineData(1, 2, GradientGemms.Both)]
    [InlineData(2, 4, GradientGemms.Both)]
    [InlineData(1, 2, GradientGemms.WeightGradient)]
    public void The_weight_and_input_gradients_with_mvue_pruned_output_gradients_equal_the_dense_ones_in_expectation(int n, int m, GradientGemms gemms)
    {
        var lowPrecision = new LowPrecisionTraining(null, new GradientSparsitySpec(n, m, PrunerKind.Mvue, Gemms: gemms), null, 1, 0);
        var (layer, input, upstream) = Conv(lowPrecision);
        var dense = DenseWeightGradient(layer, input, upstream).to(ScalarType.Float64);
        var x = input.detach().requires_grad_(true);
        var plain = nn.functional.conv2d(x, layer.Weight.detach(), layer.Bias!.detach(), padding: [1, 1]);
        var denseInput = autograd.grad([plain.mul(upstream).sum()], [x])[0];
        var weightDraws = new SampleMean(dense);
        var inputDraws = new SampleMean(denseInput.to(ScalarType.Float64));
        for (int step = 0; step < Steps; step++)
        {
            using var scope = NewDisposeScope();
            lowPrecision.BeginStep(step);
            var (weight, inputDraw) = Gradients(layer, input, upstream);
            weightDraws.Add(weight);
            inputDraws.Add(inputDraw);
        }
        // Both gradients are unbiased: dW from the weight GEMM's draw, dX from the input GEMM's own draw (or dense).
        Assert.Equal(0, weightDraws.OutsideSixStandardErrors());
        Assert.Equal(0, inputDraws.OutsideSixStandardErrors(absoluteSlack: 1e-5)); // dense draws differ by float summation order
        var standardError = weightDraws.StandardError();
        // Not trivially dense: single draws differ from the dense gradient.
        lowPrecision.BeginStep(Steps);
        var (single, inputGradient) = Gradients(layer, input, upstream);
        Assert.False(single.to(ScalarType.Float64).allclose(dense, 1e-3, 1e-4));
        // The input gradient is the dense one when only the weight-gradient GEMM takes the pruned gradient, else a pruned draw.
        // Up to float summation order (the two convolutions may take different kernels and thread splits); a pruned draw
        // is off by the size of the values themselves.
        Assert.Equal(gemms == GradientGemms.WeightGradient, inputGradient.allclose(denseInput, 1e-4, 1e-4));

        // The greedy baseline's weight gradient misses the dense one by far more than MVUE's sampling error.
        var greedy = new LowPrecisionTraining(null, new GradientSparsitySpec(n, m, PrunerKind.Greedy), null, 1, 0);
        var (greedyLayer, _, _) = Conv(greedy);
        greedy.BeginStep(0);
        var greedyWeight = Gradients(greedyLayer, input, upstream).Weight.to(ScalarType.Float64);
        long biased = greedyWeight.sub(dense).abs().gt(standardError.mul(6)).sum().item<long>();
        Assert.True(biased > dense.numel() / 4, $"greedy's weight gradient is off on only {biased} of {dense.numel()}");
    }

    [Fact]
    public void Bifurcation_feeds_the_weight_gradient_the_unquantized_output_gradient_and_the_input_gradient_the_quantized_one()
    {
        var bifurcated = new LowPrecisionTraining(new QuantizeSpec(null, null, 4, Stochastic: true, Bifurcation: true), null, null, 1, 0);
        var (layer, input, upstream) = Conv(bifurcated);
        bifurcated.BeginStep(0);
        var (weight, inputGrad) = Gradients(layer, input, upstream);
        var dense = DenseWeightGradient(layer, input, upstream);
        Assert.True(weight.allclose(dense, 1e-5, 1e-6), "with bifurcation the weight gradient is the fp32 one");
        var x = input.detach().requires_grad_(true);
        var denseInput = autograd.grad([nn.functional.conv2d(x, layer.Weight.detach(), layer.Bias!.detach(), padding: [1, 1]).mul(upstream).sum()], [x])[0];
        Assert.False(inputGrad.allclose(denseInput, 1e-3, 1e-4), "the input gradient comes from the 4-bit output gradient");

        var single = new LowPrecisionTraining(new QuantizeSpec(null, null, 4, Stochastic: true, Bifurcation: false), null, null, 1, 0);
        var (plain, _, _) = Conv(single);
        single.BeginStep(0);
        Assert.False(Gradients(plain, input, upstream).Weight.allclose(dense, 1e-3, 1e-4), "without bifurcation the weight gradient is quantized too");
    }

    [Fact]
    public void Dense_first_last_leaves_the_first_and_last_layers_output_gradients_unpruned_and_prunes_the_others()
    {
        var lowPrecision = new LowPrecisionTraining(null, new GradientSparsitySpec(1, 2, PrunerKind.Mvue, DenseFirstLast: true), null, 1, 0);
        torch.random.manual_seed(5);
        var layers = new[] { lowPrecision.LayerFactory.Linear(6, 8), lowPrecision.LayerFactory.Linear(8, 8), lowPrecision.LayerFactory.Linear(8, 3) }
            .Cast<LowPrecisionLayer>().ToArray();
        Assert.Equal([null, lowPrecision.Transform.Sparsity, null], Enumerable.Range(0, 3).Select(i => lowPrecision.TransformOf(i).Sparsity));
        lowPrecision.BeginStep(0);
        using var generator = new Generator(9);
        var input = randn([16, 6], generator: generator);
        var upstream = randn([16, 3], generator: generator);
        var h1 = layers[0].call(input);
        var h2 = layers[1].call(h1);
        var output = layers[2].call(h2);
        var weights = layers.Select(l => (Tensor)l.Weight).ToArray();
        var grads = autograd.grad([output.mul(upstream).sum()], [.. weights, h1, h2]);
        var (g1, g2) = (grads[3], grads[4]);
        // dW = g^T x with the output gradient as it arrived (not pruned) for the last and the first layer...
        Assert.True(grads[2].allclose(upstream.t().matmul(h2.detach()), 1e-5, 1e-6), "last layer's output gradient was pruned");
        Assert.True(grads[0].allclose(g1.t().matmul(input), 1e-5, 1e-6), "first layer's output gradient was pruned");
        // ...and from a pruned one (half the values dropped) for the middle layer.
        Assert.False(grads[1].allclose(g2.t().matmul(h1.detach()), 1e-3, 1e-4));
        Assert.Equal(0.5, lowPrecision.Gradients.TakeSparsity(), 6); // only the middle layer counted
    }

    [Fact]
    public void Dense_first_last_on_a_model_with_two_layers_is_a_user_error_naming_the_field()
    {
        var lowPrecision = new LowPrecisionTraining(null, new GradientSparsitySpec(1, 2, PrunerKind.Mvue, DenseFirstLast: true), null, 1, 0);
        _ = lowPrecision.LayerFactory.Linear(6, 8);
        _ = lowPrecision.LayerFactory.Linear(8, 3);
        var error = Assert.Throws<UserFacingException>(() => lowPrecision.CheckModel(JobSpecDefaults.Model));
        Assert.StartsWith("training.gradient_sparsity.dense_first_last: model ", error.Message);
    }

    /// <summary>The running mean of K gradient draws next to the exact value they estimate.</summary>
    private sealed class SampleMean(Tensor exact)
    {
        private readonly Tensor sum = zeros_like(exact);
        private readonly Tensor squares = zeros_like(exact);
        private int count;

        public void Add(Tensor draw)
        {
            var d = draw.to(ScalarType.Float64);
            sum.add_(d);
            squares.add_(d.square());
            count++;
        }

        /// <summary>The standard error of the mean, from the draws themselves.</summary>
        public Tensor StandardError()
        {
            var mean = sum.div(count);
            return squares.div(count).sub(mean.square()).clamp_min(0).mul((double)count / (count - 1)).div(count).sqrt();
        }

        /// <summary>Elements whose mean lies beyond 6 standard errors of the exact value (plus float slack).</summary>
        public long OutsideSixStandardErrors(double absoluteSlack = 1e-9) =>
            sum.div(count).sub(exact).abs().gt(StandardError().mul(6).add(exact.abs().mul(1e-5)).add(absoluteSlack)).sum().item<long>();
    }
}
