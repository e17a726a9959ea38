using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Normalization;

/// <summary>
/// Recomputes the running statistics of every batch-norm layer as the cumulative average over
/// training batches at one image size (Mix &amp; Match evaluates at a size the running stats were not
/// collected at). Momentum 1/i on the i-th batch makes the exponential average a plain mean.
/// </summary>
public static class RunningStatsReestimation
{
    /// <remarks>Ghost and range batch norm layers use whole batches while re-estimating, so every batch
    /// contributes exactly one statistic to the average.</remarks>
    public static void Reestimate(nn.Module<Tensor, Tensor> model, IEnumerable<Tensor> batches)
    {
        var norms = model.modules().OfType<NormBase>().Where(n => n.track_running_stats).ToList();
        var ghosts = model.modules().OfType<GhostBatchNorm>().ToList();
        var ranges = model.modules().OfType<RangeBatchNorm>().ToList();
        if (norms.Count == 0 && ghosts.Count == 0 && ranges.Count == 0) return;
        var momenta = norms.Select(n => n.momentum).ToList();
        var ghostSettings = ghosts.Select(g => (g.GhostBatch, g.Momentum)).ToList();
        var rangeSettings = ranges.Select(r => (r.GhostBatch, r.Momentum)).ToList();
        foreach (var norm in norms) norm.reset_running_stats();
        foreach (var ghost in ghosts)
        {
            ghost.ResetRunningStats();
            ghost.GhostBatch = long.MaxValue;
        }
        foreach (var range in ranges)
        {
            range.ResetRunningStats();
            range.GhostBatch = long.MaxValue;
        }
        model.train();
        try
        {
            using var noGrad = no_grad();
            int i = 0;
            foreach (var batch in batches)
            {
                i++;
                foreach (var norm in norms) norm.momentum = 1.0 / i;
                foreach (var ghost in ghosts) ghost.Momentum = 1.0 / i;
                foreach (var range in ranges) range.Momentum = 1.0 / i;
                using var scope = NewDisposeScope();
                model.forward(batch);
            }
        }
        finally
        {
            for (int n = 0; n < norms.Count; n++) norms[n].momentum = momenta[n];
            for (int g = 0; g < ghosts.Count; g++) (ghosts[g].GhostBatch, ghosts[g].Momentum) = ghostSettings[g];
            for (int r = 0; r < ranges.Count; r++) (ranges[r].GhostBatch, ranges[r].Momentum) = rangeSettings[r];
        }
    }
}
