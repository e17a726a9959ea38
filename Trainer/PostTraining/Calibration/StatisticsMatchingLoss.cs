using static TorchSharp.torch;

namespace Orchestrator.Trainer.PostTraining.Calibration;

/// <summary>
/// The loss synthetic inputs are optimised by ("The knowledge within", ALGORITHMS.md section 10): for every
/// normalization layer l with running mean mu_l and running deviation sigma_l, and the batch statistics mu~_l and
/// sigma~_l of its input (<see cref="NormLayerStatistics"/>),
/// <c>L = sum over l of ( ||mu~_l - mu_l||_2 + ||sigma~_l - sigma_l||_2 )</c>, Euclidean norms over the channels (not
/// squared, as in the paper, so every layer pulls with a gradient of unit size whatever its scale).
/// </summary>
public static class StatisticsMatchingLoss
{
    /// <summary>One layer's two terms: ||mean - targetMean||_2 and ||std - targetStd||_2 (scalars, differentiable in
    /// mean and std).</summary>
    public static (Tensor MeanGap, Tensor StdGap) Gaps(Tensor mean, Tensor std, Tensor targetMean, Tensor targetStd)
    {
        if (!mean.shape.SequenceEqual(targetMean.shape) || !std.shape.SequenceEqual(targetStd.shape))
            throw new ArgumentException($"statistics of shape [{string.Join(',', mean.shape)}] against running statistics of shape [{string.Join(',', targetMean.shape)}]");
        return ((mean - targetMean).norm(), (std - targetStd).norm());
    }

    /// <summary>The sum of every layer's two terms.</summary>
    public static Tensor Total(IReadOnlyList<(Tensor MeanGap, Tensor StdGap)> layers)
    {
        if (layers.Count == 0) throw new ArgumentException("no layer to match", nameof(layers));
        using var scope = NewDisposeScope();
        var total = layers[0].MeanGap + layers[0].StdGap;
        for (int l = 1; l < layers.Count; l++) total = total + layers[l].MeanGap + layers[l].StdGap;
        return total.MoveToOuterDisposeScope();
    }
}
