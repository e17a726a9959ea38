using Orchestrator.Spec;

namespace Orchestrator.Trainer.Normalization;

/// <summary>Maps the spec's <c>model.norm</c> to a factory.</summary>
public static class NormalizationRegistry
{
    /// <summary>The factory for <paramref name="kind"/>; <paramref name="ghostBatch"/> is used only by ghost batch norm
    /// (required) and range batch norm (0 = the whole batch).</summary>
    public static INormalizationFactory Create(NormKind kind, int ghostBatch = 0) => kind switch
    {
        NormKind.Batch => new BatchNormFactory(),
        NormKind.GhostBatch => new GhostBatchNormFactory(ghostBatch),
        NormKind.None => new IdentityNormFactory(),
        NormKind.RangeBatch => new RangeBatchNormFactory(ghostBatch),
    };
}
