using System.Text.Json.Nodes;
using Orchestrator.Spec;
using Orchestrator.Trainer.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.PostTraining.Calibration;

/// <summary>
/// Calibration from real data: <c>count</c> images of the run's training split, normalized as training normalizes them
/// (the dataset loader does), chosen by a permutation seeded with the seed (so the same seed gives the same images).
/// No augmentation: the images as the model sees them in evaluation.
/// </summary>
public sealed class RealCalibration(TensorDataset train) : ICalibrationSource
{
    /// <inheritdoc/>
    public string Name => "real";

    /// <inheritdoc/>
    /// <exception cref="UserFacingException">More samples asked for than the training split holds.</exception>
    public CalibrationInputs Create(nn.Module<Tensor, Tensor> model, int count, long seed, string reportDirectory, Action<double>? progress)
    {
        if (count < 1) throw new UserFacingException($"--samples: expected at least 1 calibration sample, got {count}");
        if (count > train.Count)
            throw new UserFacingException($"--samples: {count} calibration samples asked for, but the run's training split has {train.Count} images");
        using var generator = new Generator((ulong)seed);
        using var permutation = randperm(train.Count, generator: generator);
        using var index = permutation.narrow(0, 0, count);
        var images = train.Images.index_select(0, index.to(train.Images.device)).cpu().contiguous();
        using var labels = train.Labels.index_select(0, index.to(train.Labels.device)).cpu();
        using var perClass = labels.bincount(null, train.Classes);
        var counts = new JsonArray(perClass.data<long>().ToArray().Select(c => (JsonNode)c).ToArray());
        progress?.Invoke(1);
        return new CalibrationInputs(images, new JsonObject
        {
            ["split"] = "train",
            ["choice"] = $"the first {count} of a permutation of the {train.Count} training images seeded with {seed}",
            ["per_class"] = counts,
        });
    }
}
