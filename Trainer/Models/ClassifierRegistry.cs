using Orchestrator.Spec;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Models;

/// <summary>Maps the spec's <c>model.classifier</c> to a builder of a model's final layer.</summary>
public static class ClassifierRegistry
{
    private static readonly Dictionary<string, Func<long, long, nn.Module<Tensor, Tensor>>> Builders = new(StringComparer.Ordinal)
    {
        ["linear"] = (inFeatures, classes) => nn.Linear(inFeatures, classes),
        ["hadamard"] = (inFeatures, classes) => new HadamardClassifier(inFeatures, classes),
    };

    /// <summary>The known <c>model.classifier</c> names.</summary>
    public static IReadOnlyCollection<string> Names => Builders.Keys;

    /// <summary>The builder <c>(inFeatures, classes) -> final layer</c> for <paramref name="name"/>.</summary>
    public static Func<long, long, nn.Module<Tensor, Tensor>> Get(string name) =>
        Builders.TryGetValue(name, out var build)
            ? build
            : throw new UserFacingException($"model.classifier: unknown classifier '{name}' (known: {string.Join(", ", Builders.Keys)})");

    /// <summary>Builds the final layer named <paramref name="name"/> from <paramref name="inFeatures"/> features to <paramref name="classes"/> logits.</summary>
    public static nn.Module<Tensor, Tensor> Create(string name, long inFeatures, long classes) => Get(name)(inFeatures, classes);
}
