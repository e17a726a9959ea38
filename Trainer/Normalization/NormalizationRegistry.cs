using Orchestrator.Spec;

namespace Orchestrator.Trainer.Normalization;

/// <summary>Maps the spec's <c>model.norm</c> to a factory.</summary>
public static class NormalizationRegistry
{
    private static readonly Dictionary<string, Func<int, INormalizationFactory>> Factories = new(StringComparer.Ordinal)
    {
        ["batch"] = _ => new BatchNormFactory(),
        ["ghost_batch"] = ghost => ghost >= 1
            ? new GhostBatchNormFactory(ghost)
            : throw new UserFacingException($"model.norm: ghost_batch needs a positive training.ghost_batch (rows per ghost batch), got {ghost}"),
        ["none"] = _ => new IdentityNormFactory(),
    };

    /// <summary>The known <c>model.norm</c> names.</summary>
    public static IReadOnlyCollection<string> Names => Factories.Keys;

    /// <summary>The factory for <paramref name="name"/>; <paramref name="ghostBatch"/> is used only by <c>ghost_batch</c>.</summary>
    public static INormalizationFactory Create(string name, int ghostBatch = 0) =>
        Factories.TryGetValue(name, out var factory)
            ? factory(ghostBatch)
            : throw new UserFacingException($"model.norm: unknown normalization '{name}' (known: {string.Join(", ", Factories.Keys)})");
}
