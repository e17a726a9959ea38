using Orchestrator.Contracts;

namespace Orchestrator.Trainer.Normalization;

/// <summary>Maps the spec's <c>model.norm</c> to a factory.</summary>
public static class NormalizationRegistry
{
    private static readonly Dictionary<string, Func<INormalizationFactory>> Factories = new(StringComparer.Ordinal)
    {
        ["batch"] = () => new BatchNormFactory(),
        ["none"] = () => new IdentityNormFactory(),
    };

    public static IReadOnlyCollection<string> Names => Factories.Keys;

    public static INormalizationFactory Create(string name) =>
        Factories.TryGetValue(name, out var factory)
            ? factory()
            : throw new UserFacingException($"model.norm: unknown normalization '{name}' (known: {string.Join(", ", Factories.Keys)})");
}
