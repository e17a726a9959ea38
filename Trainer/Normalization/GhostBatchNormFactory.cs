using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Normalization;

/// <summary><c>norm: ghost_batch</c>: every normalization layer is a <see cref="GhostBatchNorm"/> with the given ghost size.</summary>
public sealed class GhostBatchNormFactory : INormalizationFactory
{
    /// <summary>A factory whose layers normalize ghost batches of <paramref name="ghostBatch"/> rows.</summary>
    public GhostBatchNormFactory(int ghostBatch)
    {
        if (ghostBatch < 1) throw new ArgumentOutOfRangeException(nameof(ghostBatch), ghostBatch, "the ghost batch size must be positive");
        GhostBatch = ghostBatch;
    }

    /// <summary>Rows per ghost batch.</summary>
    public int GhostBatch { get; }

    /// <inheritdoc/>
    public nn.Module<Tensor, Tensor> Norm2d(long channels) => new GhostBatchNorm(channels, GhostBatch, [4]);

    /// <inheritdoc/>
    public nn.Module<Tensor, Tensor> Norm1d(long features) => new GhostBatchNorm(features, GhostBatch, [2, 3]);

    /// <inheritdoc/>
    public bool Normalizes => true;
}
