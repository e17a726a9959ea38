using Orchestrator.Spec;
using Orchestrator.Trainer.Compression.Torch;
using Orchestrator.Trainer.LowPrecision;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Tests.LowPrecision;

/// <summary>
/// N:M pruning of neural gradients (ALGORITHMS.md section 7) on a real backward tensor: dL/d(conv output) of a small
/// CNN on random images. MVUE keeps at most N per block and is unbiased: with inclusion probabilities p_i, each kept
/// value x_i / p_i has Var = x_i^2 (1/p_i - 1), so the mean of K draws lies within 6 sqrt(Var / K) of x_i (plus float
/// slack) except with probability ~2e-9 per element. Greedy top-N fails that bound on the values it always drops.
/// </summary>
public sealed class NeuralGradientPruningTests
{
    private const int Draws = 1500;

    /// <summary>dL/dh for h = conv(x) in conv -> relu -> linear -> cross-entropy, [8, 8, 12, 12].</summary>
    private static Tensor CapturedGradient()
    {
        using var generator = new Generator(21);
        var x = randn([8, 1, 12, 12], generator: generator);
        var w = randn([8, 1, 3, 3], generator: generator).mul(0.3f).requires_grad_(true);
        var v = randn([10, 8 * 12 * 12], generator: generator).mul(0.05f).requires_grad_(true);
        var labels = randint(10, [8], generator: generator);
        var h = nn.functional.conv2d(x, w, padding: [1, 1]);
        var logits = nn.functional.linear(nn.functional.relu(h).flatten(1), v);
        var loss = nn.functional.cross_entropy(logits, labels);
        return autograd.grad([loss], [h])[0].detach();
    }

    /// <summary>A gradient [B, C, ...] in the pruning layout of <paramref name="gemm"/>: rows of M values of one channel
    /// along (sample, position) for the weight-gradient GEMM, of M consecutive channels at one (sample, position) for the
    /// input-gradient GEMM (the captured gradient's 8 channels fill whole blocks).</summary>
    private static Tensor Blocks(Tensor g, int m, BackwardGemm gemm = BackwardGemm.WeightGradient) => gemm == BackwardGemm.WeightGradient
        ? g.transpose(0, 1).reshape(g.shape[1], -1).reshape(-1, m)
        : g.permute(0, 2, 3, 1).reshape(-1, m);

    [Theory]
    [InlineData(1, 2, true, BackwardGemm.WeightGradient)]
    [InlineData(2, 4, true, BackwardGemm.WeightGradient)]
    [InlineData(3, 8, true, BackwardGemm.WeightGradient)]
    [InlineData(1, 2, false, BackwardGemm.WeightGradient)]
    [InlineData(2, 4, false, BackwardGemm.WeightGradient)]
    [InlineData(1, 2, true, BackwardGemm.InputGradient)]
    [InlineData(2, 4, true, BackwardGemm.InputGradient)]
    [InlineData(2, 4, false, BackwardGemm.InputGradient)]
    public void Mvue_is_unbiased_and_keeps_at_most_N_per_block_on_a_captured_gradient_while_greedy_is_biased(int n, int m, bool fused, BackwardGemm gemm)
    {
        var g = CapturedGradient();
        Assert.True(g.count_nonzero().item<long>() > g.numel() / 2, "the captured gradient is mostly non-zero");
        var x = Blocks(g, m, gemm).to(ScalarType.Float64);
        var sum = zeros_like(x);
        var squares = zeros_like(x);
        for (int k = 0; k < Draws; k++)
        {
            using var scope = NewDisposeScope();
            var pruned = NeuralGradientPruning.Prune(g, n, m, PrunerKind.Mvue, (ulong)k + 1, gemm, fused);
            Assert.Equal(g.shape, pruned.shape);
            var blocks = Blocks(pruned, m, gemm).to(ScalarType.Float64);
            Assert.True(blocks.ne(0).sum([1]).le(n).all().item<bool>(), "a block kept more than N");
            sum.add_(blocks);
            squares.add_(blocks.square());
        }
        var mean = sum.div(Draws);
        var p = TorchNmPruning.InclusionProbabilities(x.abs(), n);
        // A zero has p = 0 (never kept) and variance 0, not 0 x infinity.
        var variance = where(x.eq(0), zeros_like(x), x.square().mul(p.reciprocal().sub(1)));
        var bound = variance.div(Draws).sqrt().mul(6).add(x.abs().mul(1e-5)).add(1e-12);
        var outside = mean.sub(x).abs().gt(bound);
        Assert.Equal(0, outside.sum().item<long>());
        // The variance is the MVUE formula's (sum over elements; the estimate's relative error is ~sqrt(2/K) = 4%).
        double empirical = squares.div(Draws).sub(mean.square()).sum().item<double>() * Draws / (Draws - 1);
        double formula = variance.sum().item<double>();
        Assert.InRange(empirical / formula, 0.85, 1.15);

        // Greedy on the same tensor is deterministic, so its mean is itself. It loses magnitude: the signed loss
        // sum sign(x) (estimate - x) is 0 in expectation for MVUE, with standard deviation sqrt(sum Var / K) for the mean
        // of K draws; greedy's is minus everything it drops, far beyond that.
        var greedy = Blocks(NeuralGradientPruning.Prune(g, n, m, PrunerKind.Greedy, 1, gemm, fused), m, gemm).to(ScalarType.Float64);
        Assert.True(greedy.ne(0).sum([1]).le(n).all().item<bool>());
        double sigma = Math.Sqrt(formula / Draws);
        double mvueLoss = x.sign().mul(mean.sub(x)).sum().item<double>();
        double greedyLoss = x.sign().mul(greedy.sub(x)).sum().item<double>();
        Assert.True(Math.Abs(mvueLoss) <= 6 * sigma, $"MVUE's signed loss {mvueLoss} is beyond 6 sigma = {6 * sigma}");
        Assert.True(greedyLoss < -100 * sigma, $"greedy's signed loss {greedyLoss} is within 100 sigma = {100 * sigma}");
    }

    [Fact]
    public void All_zero_blocks_stay_zero_and_channels_that_do_not_fill_whole_blocks_are_padded_not_dropped()
    {
        // 3 samples x 5 positions = 15 values per channel: 3 whole blocks of 4 and one padded block of 3.
        using var generator = new Generator(2);
        var g = randn([3, 2, 5], generator: generator);
        g[.., 0] = zeros(3, 5);
        var pruned = NeuralGradientPruning.Prune(g, 2, 4, PrunerKind.Mvue, 9);
        Assert.True(pruned[.., 0].eq(0).all().item<bool>());
        // Each channel keeps at most 2 per block: at most 8 of its 15 values.
        Assert.True(pruned[.., 1].count_nonzero().item<long>() <= 8);
        Assert.True(pruned[.., 1].count_nonzero().item<long>() > 0);
    }

    [Fact]
    public void Blocks_for_the_input_gradient_run_along_channels_and_a_channel_count_that_does_not_fill_whole_blocks_is_padded()
    {
        // 5 channels at each of 2 x 3 (sample, position): one whole block of 4 channels and one padded block of 1.
        using var generator = new Generator(6);
        var g = randn([2, 5, 3], generator: generator);
        g[0, .., 1] = zeros(5); // sample 0, position 1: an all-zero row of channels stays zero
        var pruned = NeuralGradientPruning.Prune(g, 2, 4, PrunerKind.Mvue, 4, BackwardGemm.InputGradient);
        Assert.True(pruned[0, .., 1].eq(0).all().item<bool>());
        var rows = pruned.permute(0, 2, 1).reshape(-1, 5);
        // The first 4 channels keep 2; the fifth, alone in its block, is kept exactly.
        Assert.True(rows[.., ..4].ne(0).sum(-1).le(2).all().item<bool>());
        Assert.True(rows[.., 4].eq(g.permute(0, 2, 1).reshape(-1, 5)[.., 4]).all().item<bool>());
        Assert.Equal(5 * 2, rows[.., ..4].count_nonzero().item<long>()); // 5 rows that are not all zero, 2 each
    }
}
