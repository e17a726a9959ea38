using Orchestrator.Spec;
using Orchestrator.Trainer.Models;

namespace Orchestrator.Trainer.Checkpointing;

/// <summary>
/// The architecture a checkpoint was written for (kind, width, norm, input shape, classes): the trainer refuses to resume,
/// and the commands that load a trained model refuse to load, a checkpoint whose fingerprint differs from the model built.
/// </summary>
public static class ModelFingerprint
{
    /// <summary>e.g. <c>cnn/w32/batch/1x28x28/10</c>.</summary>
    public static string Of(ModelSpec model, ModelInput input) =>
        $"{model.Kind.SpecName()}/w{model.Width}/{model.Norm.SpecName()}/{input.Channels}x{input.Height}x{input.Width}/{input.Classes}";
}
