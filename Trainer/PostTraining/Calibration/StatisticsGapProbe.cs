using Orchestrator.Spec;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.PostTraining.Calibration;

/// <summary>
/// A model's normalization layers with hooks on them: one forward of a batch gives <see cref="StatisticsMatchingLoss"/>
/// and each layer's two terms. The model runs as it is (callers hold it in eval mode with <see cref="FrozenModel"/>).
/// Disposing removes the hooks and frees the copied running statistics.
/// </summary>
internal sealed class StatisticsGapProbe : IDisposable
{
    private readonly nn.Module<Tensor, Tensor> model;
    private readonly NormStatisticsCapture capture;

    private StatisticsGapProbe(nn.Module<Tensor, Tensor> model, List<NormLayerTarget> layers)
    {
        this.model = model;
        Layers = layers;
        capture = new NormStatisticsCapture(layers);
    }

    /// <summary>The layers, in module order.</summary>
    public IReadOnlyList<NormLayerTarget> Layers { get; }

    /// <summary>Hooks the normalization layers of <paramref name="model"/>.</summary>
    /// <exception cref="UserFacingException">The model has no normalization layer with running statistics.</exception>
    public static StatisticsGapProbe Attach(nn.Module<Tensor, Tensor> model)
    {
        var layers = NormLayerTarget.Find(model);
        if (layers.Count == 0)
            throw new UserFacingException("calibration: synthetic calibration needs batch-norm statistics (it synthesises inputs that "
                + "match every normalization layer's running mean and deviation), but the model has no normalization layer with "
                + "running statistics (model.norm: none); calibrate with real data instead");
        return new StatisticsGapProbe(model, layers);
    }

    /// <summary>
    /// One forward of <paramref name="input"/>: the loss (differentiable in the input when gradients are on) and each
    /// layer's two terms, summed over its calls (null for a layer the forward did not call). Tensors belong to the
    /// current dispose scope.
    /// </summary>
    public (Tensor Loss, (double Mean, double Std)?[] Gaps) Evaluate(Tensor input)
    {
        capture.Clear();
        model.call(input).Dispose();
        var terms = new List<(Tensor MeanGap, Tensor StdGap)>();
        var gaps = new (double Mean, double Std)?[Layers.Count];
        foreach (var (layer, mean, std) in capture.Calls)
        {
            var gap = StatisticsMatchingLoss.Gaps(mean, std, Layers[layer].RunningMean, Layers[layer].RunningStd);
            terms.Add(gap);
            var (m, s) = (gap.MeanGap.item<float>(), gap.StdGap.item<float>());
            gaps[layer] = gaps[layer] is { } g ? (g.Mean + m, g.Std + s) : (m, s);
        }
        capture.Clear();
        if (terms.Count == 0) throw new InvalidOperationException("the model's forward called none of its normalization layers");
        return (StatisticsMatchingLoss.Total(terms), gaps);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        capture.Dispose();
        foreach (var layer in Layers) layer.Dispose();
    }
}
