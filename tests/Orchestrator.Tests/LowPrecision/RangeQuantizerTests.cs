using Orchestrator.Trainer.Compression.Torch;
using Orchestrator.Trainer.LowPrecision;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Tests.LowPrecision;

/// <summary>
/// The asymmetric range quantizer (ALGORITHMS.md section 5). Stochastic rounding picks one of the two levels around x
/// with probabilities that make E[x^] = x and Var[x^] = s^2 f (1 - f) &lt;= s^2/4 (f: x's fraction between the levels),
/// so the mean of K independent draws lies within 6 s / (2 sqrt(K)) of x except with probability ~2e-9 per element:
/// that is the bound checked, on inputs chosen to break it.
/// </summary>
public sealed class RangeQuantizerTests
{
    private const int Draws = 4000;

    public static TheoryData<string, int> Adversarial => new()
    {
        { "gaussian", 8 }, { "gaussian", 4 }, { "gaussian", 16 }, { "outlier", 8 }, { "constant", 8 }, { "levels", 4 }, { "tiny", 8 },
    };

    private static Tensor Input(string kind)
    {
        using var generator = new Generator(11);
        return kind switch
        {
            "gaussian" => randn([64], generator: generator),
            // One huge outlier stretches the range: every other value sits inside one or two steps of a huge scale.
            "outlier" => cat([randn([63], generator: generator), tensor(new[] { 1e6f })]),
            // Zero range: every value is min.
            "constant" => full([64], 3.25f),
            // Values exactly on levels (0, s, 2s, ... with s = 1 for 4 bits over [0, 15]): no rounding noise at all.
            "levels" => arange(16, ScalarType.Float32).repeat(4),
            // Values near the smallest normal floats: the scale is tiny too.
            "tiny" => randn([64], generator: generator).mul(1e-30f),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
    }

    [Theory]
    [MemberData(nameof(Adversarial))]
    public void Stochastic_rounding_is_unbiased_within_the_derived_bound(string kind, int bits)
    {
        var x = Input(kind).to(ScalarType.Float64).to(ScalarType.Float32);
        double min = x.min().item<float>(), max = x.max().item<float>();
        double s = (max - min) / RangeQuantizer.MaxLevel(bits);
        var noise = new CounterUniform(5);
        // K independent draws at once: the range is the tensor's own (x's min and max), the same for every row.
        var draws = RangeQuantizer.Quantize(x.expand(Draws, x.shape[0]), x.min(), x.max(), bits, noise);
        var mean = draws.to(ScalarType.Float64).mean([0]);
        var error = mean.sub(x.to(ScalarType.Float64)).abs();
        // fp32 arithmetic of x^ = q s + min adds at most a few ulps of the range ends per draw.
        double slack = 1e-6 * Math.Max(Math.Abs(min), Math.Abs(max));
        double bound = 6 * s / (2 * Math.Sqrt(Draws)) + slack;
        Assert.True(error.max().item<double>() <= bound, $"{kind} {bits} bits: max |mean - x| = {error.max().item<double>()}, bound {bound}");
        // And the noise is really there when x is off the levels: the draws of a gaussian vary.
        if (kind == "gaussian") Assert.True(draws.std([0]).max().item<float>() > 0.1 * s);
        if (kind == "constant") Assert.True(draws.eq(3.25f).all().item<bool>());
    }

    [Theory]
    [InlineData(4)]
    [InlineData(8)]
    [InlineData(16)]
    public void Deterministic_rounding_errs_by_at_most_half_a_step(int bits)
    {
        using var generator = new Generator(3);
        var x = cat([randn([4096], generator: generator), tensor(new[] { -7f, 40f })]);
        var q = RangeQuantizer.QuantizePerTensor(x, bits, null);
        double s = 47.0 / RangeQuantizer.MaxLevel(bits);
        double worst = q.sub(x).abs().max().item<float>();
        Assert.True(worst <= s / 2 + 1e-5, $"max error {worst} > s/2 = {s / 2}");
        // At most 2^b distinct values, and the range ends are kept exactly.
        Assert.True(q.unique().Item1.shape[0] <= (long)Math.Pow(2, bits));
        Assert.Equal(-7f, q.min().item<float>());
        Assert.Equal(40f, q.max().item<float>(), 4);
    }

    [Fact]
    public void Per_channel_weights_use_each_output_channels_own_range()
    {
        var w = stack([linspace(-1, 1, 9), linspace(0, 1000, 9)]).reshape(2, 1, 3, 3);
        var q = RangeQuantizer.QuantizePerChannel(w, 4);
        // Channel 0's step is 2/15, far below channel 1's 1000/15: its values are not flattened by channel 1's range.
        Assert.True(q[0].sub(w[0]).abs().max().item<float>() <= 1.0 / 15 + 1e-6);
        Assert.True(q[1].sub(w[1]).abs().max().item<float>() <= 500.0 / 15 + 1e-3);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void Non_finite_values_are_refused_clearly(float bad)
    {
        var x = tensor(new[] { 1f, bad, 2f });
        var error = Assert.Throws<ArgumentException>(() => RangeQuantizer.QuantizePerTensor(x, 8, null));
        Assert.Contains("non-finite", error.Message);
        Assert.Throws<ArgumentException>(() => RangeQuantizer.QuantizePerChannel(x.reshape(1, 3), 8));
    }

    [Fact]
    public void The_straight_through_estimator_passes_the_gradient_unchanged_and_forwards_the_quantized_value()
    {
        using var generator = new Generator(9);
        var w = randn([4, 6], generator: generator).requires_grad_(true);
        var upstream = randn([4, 6], generator: generator);
        var quantized = RangeQuantizer.QuantizePerChannel(w.detach(), 4);
        var estimated = StraightThrough.Estimate(quantized, w);
        Assert.True(estimated.detach().eq(quantized).all().item<bool>(), "forward is the quantized value, bit for bit");
        var grad = autograd.grad([estimated.mul(upstream).sum()], [w])[0];
        Assert.True(grad.eq(upstream).all().item<bool>(), "backward is the identity");
    }

    [Fact]
    public void A_non_finite_gradient_passes_the_backward_transform_unquantized_instead_of_throwing()
    {
        // The transform runs inside a backward that libtorch calls back into: throwing there would end the process.
        using var scope = NewDisposeScope();
        var transform = new GradientTransform(new Orchestrator.Spec.GradientSparsitySpec(1, 2, Orchestrator.Spec.PrunerKind.Mvue), 8, true, true);
        var gradient = randn(4, 3, 2, 2);
        gradient.view(-1)[5].fill_(float.NaN);
        var (forInput, forWeight, _, _) = transform.Apply(gradient, 7);
        Assert.False(forInput.isfinite().all().item<bool>());
        Assert.False(forWeight.isfinite().all().item<bool>());
    }

    [Theory]
    [InlineData(null, true)]
    [InlineData(8, true)]
    [InlineData(8, false)]
    public void With_weight_gradient_gemms_only_the_weight_gradient_GEMM_takes_the_pruned_gradient(int? bits, bool bifurcation)
    {
        using var scope = NewDisposeScope();
        var sparsity = new Orchestrator.Spec.GradientSparsitySpec(1, 2, Orchestrator.Spec.PrunerKind.Mvue, Gemms: Orchestrator.Spec.GradientGemms.WeightGradient);
        var transform = new GradientTransform(sparsity, bits, true, bifurcation);
        Assert.True(transform.Bifurcates);
        using var generator = new Generator(3);
        var gradient = randn([4, 6, 3, 3], generator: generator);
        var (forInput, forWeight, pruned, nonZeros) = transform.Apply(gradient, 11);
        // The weight-gradient GEMM's gradient: 1:2 along (sample, position) of each channel, so exactly half is zero.
        Assert.Equal((gradient.numel(), gradient.numel() / 2), (pruned, nonZeros));
        Assert.Equal(gradient.numel() / 2, forWeight.count_nonzero().item<long>());
        // The input-gradient GEMM's: every value kept, exact without quantization, within one quantization step with it.
        if (bits is null) Assert.True(forInput.eq(gradient).all().item<bool>());
        else
        {
            Assert.Equal(gradient.numel(), forInput.count_nonzero().item<long>());
            double step = (gradient.max().item<float>() - gradient.min().item<float>()) / 255.0;
            Assert.True(forInput.sub(gradient).abs().max().item<float>() <= step * 1.0001, "stochastic rounding moves a value by less than one step");
        }
        // With bifurcation the weight GEMM takes the pruned fp32 values (each +-(|a|+|b|) of its pair); without, those
        // values quantized, the zeros kept exact.
        var pairs = gradient.transpose(0, 1).reshape(6, -1, 2).abs().sum(-1);
        var kept = forWeight.transpose(0, 1).reshape(6, -1, 2).abs().sum(-1);
        if (bits is null || bifurcation) Assert.True(kept.allclose(pairs, 1e-5, 1e-6));
        else Assert.False(kept.allclose(pairs, 1e-6, 1e-7));
    }

    [Theory]
    [InlineData(null, true)]
    [InlineData(8, true)]
    [InlineData(8, false)]
    public void With_both_gemms_each_takes_its_own_draw_blocked_along_its_reduction_dimension(int? bits, bool bifurcation)
    {
        using var scope = NewDisposeScope();
        var transform = new GradientTransform(new Orchestrator.Spec.GradientSparsitySpec(1, 2, Orchestrator.Spec.PrunerKind.Mvue), bits, true, bifurcation);
        Assert.True(transform.Bifurcates);
        using var generator = new Generator(5);
        var gradient = randn([4, 6, 3, 3], generator: generator);
        var (forInput, forWeight, pruned, nonZeros) = transform.Apply(gradient, 13);
        // Two pruned tensors, each exactly half zeros (no zero pairs in a Gaussian draw).
        Assert.Equal((2 * gradient.numel(), gradient.numel()), (pruned, nonZeros));
        // The weight GEMM's: one non-zero in each pair along (sample, position) of a channel, each +-(|a|+|b|) at fp32.
        var weightPairs = forWeight.transpose(0, 1).reshape(6, -1, 2);
        Assert.True(weightPairs.ne(0).sum(-1).eq(1).all().item<bool>());
        // The input GEMM's: one non-zero in each pair of consecutive channels at every (sample, position): its own
        // reduction dimension, so a different tensor from the weight GEMM's.
        var inputPairs = forInput.permute(0, 2, 3, 1).reshape(-1, 3, 2);
        Assert.True(inputPairs.ne(0).sum(-1).eq(1).all().item<bool>());
        Assert.False(forInput.ne(0).eq(forWeight.ne(0)).all().item<bool>());
        var channelPairs = gradient.permute(0, 2, 3, 1).reshape(-1, 3, 2).abs().sum(-1);
        if (bits is null) Assert.True(inputPairs.abs().sum(-1).allclose(channelPairs, 1e-5, 1e-6));
        var kept = weightPairs.abs().sum(-1);
        var pairs = gradient.transpose(0, 1).reshape(6, -1, 2).abs().sum(-1);
        if (bits is null || bifurcation) Assert.True(kept.allclose(pairs, 1e-5, 1e-6));
        else Assert.False(kept.allclose(pairs, 1e-6, 1e-7));
    }
}
