using Orchestrator.Spec;
using Orchestrator.Trainer.Normalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Models;

/// <summary>Maps the spec's <c>model.kind</c> to a constructor; the only place that knows model names.</summary>
public static class ModelRegistry
{
    private delegate nn.Module<Tensor, Tensor> Builder(ModelInput input, int width, INormalizationFactory norms, string classifier);

    private static readonly Dictionary<string, Builder> Builders = new(StringComparer.Ordinal)
    {
        ["mlp"] = (i, w, n, c) => new Mlp(i, w, n, c),
        ["cnn"] = (i, w, n, c) => new SmallCnn(i, w, n, c),
        ["resnet20"] = (i, w, n, c) => new ResNet(i, 20, w, n, c),
        ["resnet44"] = (i, w, n, c) => new ResNet(i, 44, w, n, c),
    };

    public static IReadOnlyCollection<string> Names => Builders.Keys;

    /// <summary>Builds the model the spec describes for inputs of the given shape.</summary>
    /// <param name="spec">Kind, width, norm and classifier.</param>
    /// <param name="input">The dataset's input shape and class count.</param>
    /// <param name="ghostBatch">Rows per ghost batch, used only by <c>model.norm: ghost_batch</c> (the spec's <c>training.ghost_batch</c>).</param>
    public static nn.Module<Tensor, Tensor> Create(ModelSpec spec, ModelInput input, int ghostBatch = 0)
    {
        if (!Builders.TryGetValue(spec.Kind, out var build))
            throw new UserFacingException($"model.kind: unknown model '{spec.Kind}' (known: {string.Join(", ", Builders.Keys)})");
        if (spec.Kind == "cnn" && (input.Height < 4 || input.Width < 4))
            throw new UserFacingException($"model.kind: cnn needs inputs of at least 4x4 pixels, the dataset has {input.Height}x{input.Width}");
        // Resolve the norm and the classifier before building, so a bad name fails before any tensor is allocated.
        var norms = NormalizationRegistry.Create(spec.Norm, ghostBatch);
        ClassifierRegistry.Get(spec.Classifier);
        return build(input, spec.Width, norms, spec.Classifier);
    }
}
