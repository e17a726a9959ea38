using Orchestrator.Contracts;
using Orchestrator.Contracts.Spec;
using Orchestrator.Trainer.Normalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Models;

/// <summary>Maps the spec's <c>model.kind</c> to a constructor; the only place that knows model names.</summary>
public static class ModelRegistry
{
    private delegate nn.Module<Tensor, Tensor> Builder(ModelInput input, int width, INormalizationFactory norms);

    private static readonly Dictionary<string, Builder> Builders = new(StringComparer.Ordinal)
    {
        ["mlp"] = (i, w, n) => new Mlp(i, w, n),
        ["cnn"] = (i, w, n) => new SmallCnn(i, w, n),
        ["resnet20"] = (i, w, n) => new ResNet(i, 20, w, n),
        ["resnet44"] = (i, w, n) => new ResNet(i, 44, w, n),
    };

    public static IReadOnlyCollection<string> Names => Builders.Keys;

    /// <summary>Builds the model the spec describes for inputs of the given shape.</summary>
    public static nn.Module<Tensor, Tensor> Create(ModelSpec spec, ModelInput input)
    {
        if (!Builders.TryGetValue(spec.Kind, out var build))
            throw new UserFacingException($"model.kind: unknown model '{spec.Kind}' (known: {string.Join(", ", Builders.Keys)})");
        if (spec.Kind == "cnn" && (input.Height < 4 || input.Width < 4))
            throw new UserFacingException($"model.kind: cnn needs inputs of at least 4x4 pixels, the dataset has {input.Height}x{input.Width}");
        return build(input, spec.Width, NormalizationRegistry.Create(spec.Norm));
    }
}
