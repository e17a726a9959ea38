using Orchestrator.Trainer.Normalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.PostTraining.Calibration;

/// <summary>
/// The per-channel batch statistics a normalization layer would compute from its input in training mode, as stateless
/// functions differentiable in the input (what synthetic calibration matches to the running statistics).
/// </summary>
public static class NormLayerStatistics
{
    /// <summary>
    /// Mean and standard deviation per channel of <paramref name="input"/> ([N, C] or [N, C, *]) over the batch and all
    /// positions: mean, and sqrt(unbiased variance + <paramref name="eps"/>), the deviation BatchNorm divides by (the eps
    /// also keeps the square root differentiable for a constant channel). [C] each.
    /// </summary>
    public static (Tensor Mean, Tensor Std) MeanStd(Tensor input, double eps)
    {
        if (input.dim() < 2) throw new ArgumentException($"need [N, C, ...] input, got {input.dim()} dims", nameof(input));
        using var scope = NewDisposeScope();
        var x = input.reshape(input.shape[0], input.shape[1], -1);
        var mean = x.mean([0, 2]);
        var std = (x.var([0, 2], unbiased: true) + eps).sqrt();
        return (mean.MoveToOuterDisposeScope(), std.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Mean and range-based sigma^ per channel of <paramref name="input"/> as <see cref="RangeBatchNormFunction"/>
    /// computes them in training (each ghost batch of <paramref name="ghostBatch"/> rows its own, chunked ranges), averaged
    /// over the ghost batches as the running statistics average them. [C] each.
    /// </summary>
    public static (Tensor Mean, Tensor Std) RangeMeanStd(Tensor input, long ghostBatch, int chunks)
    {
        if (input.dim() < 2) throw new ArgumentException($"need [N, C, ...] input, got {input.dim()} dims", nameof(input));
        using var scope = NewDisposeScope();
        long rows = input.shape[0], channels = input.shape[1];
        var x = input.reshape(rows, channels, -1);
        var sizes = GhostBatchNormFunction.ChunkSizes(rows, ghostBatch);
        long ghost = sizes[0];
        long equal = sizes[^1] == ghost ? sizes.Length : sizes.Length - 1;
        var means = new List<Tensor>();
        var stds = new List<Tensor>();
        // At most two groups of equal ghost batches, as the layer forms them: those of `ghost` rows and a longer last one.
        if (equal > 0) Add(x.narrow(0, 0, equal * ghost).view(equal, ghost, channels, -1));
        if (equal < sizes.Length) Add(x.narrow(0, equal * ghost, sizes[^1]).view(1, sizes[^1], channels, -1));
        var mean = cat(means, 0).mean([0]);
        var std = cat(stds, 0).mean([0]);
        return (mean.MoveToOuterDisposeScope(), std.MoveToOuterDisposeScope());

        void Add(Tensor group)
        {
            var (m, s) = RangeBatchNormFunction.Statistics(group, chunks);
            means.Add(m);
            stds.Add(s);
        }
    }
}
