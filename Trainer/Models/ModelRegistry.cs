using Orchestrator.Spec;
using Orchestrator.Trainer.Normalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Models;

/// <summary>Maps the spec's <c>model.kind</c> to a constructor.</summary>
public static class ModelRegistry
{
    /// <summary>Builds the model the spec describes for inputs of the given shape.</summary>
    /// <param name="spec">Kind, width, norm and classifier.</param>
    /// <param name="input">The dataset's input shape and class count.</param>
    /// <param name="ghostBatch">Rows per ghost batch, used only by <c>model.norm: ghost_batch</c> (the spec's <c>training.ghost_batch</c>).</param>
    /// <param name="layers">Builds the conv and linear layers; default TorchSharp's fp32 ones.</param>
    public static nn.Module<Tensor, Tensor> Create(ModelSpec spec, ModelInput input, int ghostBatch = 0, ILayerFactory? layers = null)
    {
        // The image size comes from the dataset, not the spec, so the validator cannot check it.
        if (spec.Kind == ModelKind.Cnn && (input.Height < 4 || input.Width < 4))
            throw new UserFacingException($"model.kind: {spec.Kind.SpecName()} needs inputs of at least 4x4 pixels, the dataset has {input.Height}x{input.Width}");
        var norms = NormalizationRegistry.Create(spec.Norm, ghostBatch);
        var (w, c) = (spec.Width, spec.Classifier);
        return spec.Kind switch
        {
            ModelKind.Mlp => new Mlp(input, w, norms, c, layers),
            ModelKind.Cnn => new SmallCnn(input, w, norms, c, layers),
            ModelKind.ResNet20 => new ResNet(input, 20, w, norms, c, layers),
            ModelKind.ResNet44 => new ResNet(input, 44, w, norms, c, layers),
        };
    }
}
