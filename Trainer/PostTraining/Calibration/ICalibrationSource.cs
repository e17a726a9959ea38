using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.PostTraining.Calibration;

/// <summary>
/// Where the inputs that calibrate a quantized model come from: real training images, or images synthesised from the
/// trained model alone (data-free). Every post-training step that needs data (activation ranges, AdaQuant, BN
/// re-estimation, bias tuning) takes its inputs from one source.
/// </summary>
public interface ICalibrationSource
{
    /// <summary>The name the command line uses for this source (<c>real</c>, <c>synthetic</c>).</summary>
    string Name { get; }

    /// <summary>
    /// Produces <paramref name="count"/> model inputs for <paramref name="model"/> (in eval mode; the source must leave
    /// its parameters, buffers and mode as it found them), deterministic for a given <paramref name="seed"/>.
    /// </summary>
    /// <param name="model">The trained full-precision model.</param>
    /// <param name="count">How many inputs; at least 1.</param>
    /// <param name="seed">Seed of every random choice the source makes.</param>
    /// <param name="reportDirectory">Where the source may write files for the report (e.g. a PNG of its inputs).</param>
    /// <param name="progress">Told the fraction done (0..1) during long work; may be null.</param>
    CalibrationInputs Create(nn.Module<Tensor, Tensor> model, int count, long seed, string reportDirectory, Action<double>? progress);
}

/// <summary>Calibration inputs and what their source reports about them.</summary>
/// <param name="Images">[count, C, H, W] float32 on the CPU, in the model's input space (normalized like training data).</param>
/// <param name="Report">Source-specific details for the quantize report (e.g. how close synthetic inputs brought each
/// BN layer's batch statistics to its running statistics, the file name of a picture of them in the report directory); null when there are none.</param>
public sealed record CalibrationInputs(Tensor Images, JsonObject? Report) : IDisposable
{
    /// <inheritdoc/>
    public void Dispose() => Images.Dispose();
}
