using Orchestrator.Trainer.Normalization;
using Orchestrator.Trainer.PostTraining.Calibration;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Tests.PostTraining;

/// <summary>
/// The batch statistics synthetic calibration matches are those each layer itself computes in training: a layer run in
/// training mode with momentum 1 stores its batch's statistics as running ones, which must equal what
/// <see cref="NormLayerTarget"/> computes from the same input (and its targets those running statistics).
/// </summary>
public sealed class NormLayerStatisticsTests
{
    private static Tensor Batch(long rows, long channels, long seed)
    {
        using var generator = new Generator((ulong)seed);
        using var scope = NewDisposeScope();
        var shift = arange(channels, dtype: ScalarType.Float32).view(1, -1, 1, 1);
        return (2 * randn([rows, channels, 5, 3], generator: generator) + shift).MoveToOuterDisposeScope();
    }

    /// <summary>Runs <paramref name="layer"/> in training on <paramref name="x"/>, then compares its running statistics,
    /// as the target computes them, with the target's batch statistics of <paramref name="x"/>.</summary>
    private static void AssertMatches(nn.Module<Tensor, Tensor> layer, Tensor x)
    {
        layer.train();
        using (no_grad()) layer.call(x).Dispose();
        layer.eval();
        var target = NormLayerTarget.Find(layer).Single();
        var (mean, std) = target.BatchStatistics(x);
        Assert.True(mean.allclose(target.RunningMean, rtol: 1e-5, atol: 1e-5), "batch mean != running mean");
        Assert.True(std.allclose(target.RunningStd, rtol: 1e-5, atol: 1e-5), "batch std != running std");
        target.Dispose();
    }

    [Fact]
    public void BatchNorm_statistics_are_the_layers_own()
    {
        using var bn = nn.BatchNorm2d(4, momentum: 1.0);
        using var x = Batch(6, 4, 1);
        AssertMatches(bn, x);
        using var bn1 = nn.BatchNorm1d(4, momentum: 1.0);
        using var rows = Batch(6, 4, 2).mean([2, 3]);
        AssertMatches(bn1, rows);
    }

    [Fact]
    public void Ghost_batch_norm_statistics_are_the_layers_own_over_one_ghost_batch()
    {
        using var ghost = new GhostBatchNorm(4, ghostBatch: 6, [4], momentum: 1.0);
        using var x = Batch(6, 4, 3);
        AssertMatches(ghost, x);
    }

    [Fact]
    public void Range_batch_norm_statistics_are_the_layers_own_estimate_averaged_over_its_ghost_batches()
    {
        using var whole = new RangeBatchNorm(4, ghostBatch: long.MaxValue, [4], momentum: 1.0);
        using var x = Batch(8, 4, 4);
        AssertMatches(whole, x);

        // Ghost batches of 3 rows out of 8 (3 + 5): the layer's estimate of each, averaged; the layer itself, fed each
        // ghost batch alone with momentum 1, gives each one's.
        using var ghosts = new RangeBatchNorm(4, ghostBatch: 3, [4], momentum: 1.0);
        var target = NormLayerTarget.Find(ghosts).Single();
        var (mean, std) = target.BatchStatistics(x);
        var means = new List<Tensor>();
        var stds = new List<Tensor>();
        foreach (var (start, count) in new[] { (0L, 3L), (3L, 5L) })
        {
            using var alone = new RangeBatchNorm(4, ghostBatch: long.MaxValue, [4], momentum: 1.0);
            using (no_grad()) alone.call(x.narrow(0, start, count)).Dispose();
            means.Add(alone.RunningMean.clone());
            stds.Add(alone.RunningStd.clone());
        }
        Assert.True(mean.allclose(stack(means).mean([0]), rtol: 1e-5, atol: 1e-5));
        Assert.True(std.allclose(stack(stds).mean([0]), rtol: 1e-5, atol: 1e-5));
        target.Dispose();
    }

    [Fact]
    public void The_loss_is_the_sum_of_euclidean_distances_and_its_gradient_reaches_the_input()
    {
        using var x = Batch(6, 3, 5).requires_grad_();
        var (mean, std) = NormLayerStatistics.MeanStd(x, 1e-5);
        using var targetMean = tensor(new[] { 1f, -1f, 0f });
        using var targetStd = tensor(new[] { 1f, 2f, 3f });
        var gaps = StatisticsMatchingLoss.Gaps(mean, std, targetMean, targetStd);
        var total = StatisticsMatchingLoss.Total([gaps, gaps]);

        var m = mean.detach().data<float>().ToArray();
        var s = std.detach().data<float>().ToArray();
        double meanGap = Math.Sqrt(Math.Pow(m[0] - 1, 2) + Math.Pow(m[1] + 1, 2) + Math.Pow(m[2], 2));
        double stdGap = Math.Sqrt(Math.Pow(s[0] - 1, 2) + Math.Pow(s[1] - 2, 2) + Math.Pow(s[2] - 3, 2));
        Assert.Equal(2 * (meanGap + stdGap), total.item<float>(), 4);

        total.backward();
        Assert.NotNull(x.grad);
        Assert.True(x.grad!.abs().sum().item<float>() > 0);
    }
}
