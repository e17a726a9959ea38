using Orchestrator.Trainer.Normalization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Tests.LargeBatch;

public sealed class RunningStatsReestimationTests
{
    [Fact]
    public void Running_stats_become_the_plain_average_over_the_batches_and_momentum_is_restored()
    {
        var norm = nn.BatchNorm2d(3);
        var model = nn.Sequential(("norm", (nn.Module<Tensor, Tensor>)norm));
        using (no_grad()) { norm.running_mean!.fill_(5); norm.running_var!.fill_(7); }
        var batches = Enumerable.Range(0, 4).Select(i => randn(new long[] { 6, 3, 4, 4 }, generator: new Generator((ulong)i)) * (i + 1) + i).ToList();

        RunningStatsReestimation.Reestimate(model, batches);

        var means = stack(batches.Select(b => b.mean([0, 2, 3])).ToArray()).mean([0]);
        var vars = stack(batches.Select(b => b.var([0, 2, 3], unbiased: true)).ToArray()).mean([0]);
        Assert.True(norm.running_mean!.allclose(means, rtol: 1e-5, atol: 1e-5));
        Assert.True(norm.running_var!.allclose(vars, rtol: 1e-5, atol: 1e-5));
        Assert.Equal(0.1, norm.momentum);
    }

    [Fact]
    public void Ghost_batch_norm_is_reestimated_over_whole_batches_and_keeps_its_ghost_size()
    {
        var ghost = new GhostBatchNorm(3, 2, [4]);
        var model = nn.Sequential(("norm", (nn.Module<Tensor, Tensor>)ghost));
        var batches = Enumerable.Range(0, 3).Select(i => randn(new long[] { 8, 3, 2, 2 }, generator: new Generator((ulong)i + 10)) + i).ToList();

        RunningStatsReestimation.Reestimate(model, batches);

        var means = stack(batches.Select(b => b.mean([0, 2, 3])).ToArray()).mean([0]);
        // Whole-batch unbiased variances, averaged: per-chunk (ghost 2) variances would be much smaller.
        var vars = stack(batches.Select(b => b.var([0, 2, 3], unbiased: true)).ToArray()).mean([0]);
        var chunkVars = stack(batches.Select(b => b.reshape(4, 2, 3, 2, 2).var([1, 3, 4], unbiased: true).mean([0])).ToArray()).mean([0]);
        Assert.True(ghost.RunningMean.allclose(means, rtol: 1e-5, atol: 1e-5));
        Assert.True(ghost.RunningVar.allclose(vars, rtol: 1e-5, atol: 1e-5), $"running var {ghost.RunningVar.str()} vs {vars.str()}");
        Assert.False(ghost.RunningVar.allclose(chunkVars, rtol: 1e-2, atol: 1e-2));
        Assert.Equal(2, ghost.GhostBatch);
        Assert.Equal(0.1, ghost.Momentum);
    }
}
