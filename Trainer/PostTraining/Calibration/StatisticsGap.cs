using System.Text.Json.Nodes;
using Orchestrator.Spec;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.PostTraining.Calibration;

/// <summary>
/// How far the batch statistics of given inputs are from a model's running statistics, by the measure synthetic
/// calibration minimises (<see cref="StatisticsMatchingLoss"/>). On real data it gives the floor that batches of the
/// training distribution reach, to read synthetic inputs' figures against.
/// </summary>
public static class StatisticsGap
{
    /// <summary>
    /// The loss and each layer's mean and deviation gaps of <paramref name="images"/> ([N, C, H, W], any device), taken in
    /// batches of <paramref name="batchSize"/> (see <see cref="SyntheticCalibration.BatchSizes"/>), averaged weighted by
    /// batch: <c>{ images, batches, loss, layers: [{ name, norm, channels, mean_gap, std_gap }] }</c>. The model is left
    /// as found.
    /// </summary>
    /// <exception cref="UserFacingException">The model has no normalization layer with running statistics.</exception>
    public static JsonObject Measure(nn.Module<Tensor, Tensor> model, Tensor images, int batchSize)
    {
        if (images.shape[0] < 2) throw new ArgumentException("batch statistics need at least 2 images", nameof(images));
        if (batchSize < 2) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batch statistics need at least 2 images");
        var device = model.parameters().Select(p => p.device).FirstOrDefault() ?? CPU;
        using var frozen = new FrozenModel(model);
        using var probe = StatisticsGapProbe.Attach(model);
        using var noGrad = no_grad();
        var sizes = SyntheticCalibration.BatchSizes((int)images.shape[0], batchSize);
        var tally = new StatisticsGapTally(probe.Layers.Count);
        long start = 0;
        foreach (int size in sizes)
        {
            using var scope = NewDisposeScope();
            var (loss, gaps) = probe.Evaluate(images.narrow(0, start, size).to(device));
            tally.Add(size, loss, gaps);
            start += size;
        }
        return new JsonObject
        {
            ["images"] = images.shape[0],
            ["batches"] = sizes.Length,
            ["loss"] = StatisticsGapTally.Number(tally.Loss),
            ["layers"] = StatisticsGapTally.Layers(probe.Layers, l => [("mean_gap", tally.MeanGap(l)), ("std_gap", tally.StdGap(l))]),
        };
    }
}
