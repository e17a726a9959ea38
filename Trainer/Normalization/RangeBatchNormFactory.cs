using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Normalization;

/// <summary>
/// <c>norm: range_batch</c>: every normalization layer is a <see cref="RangeBatchNorm"/>, over the whole local batch
/// or, with <c>training.ghost_batch</c>, over each ghost batch.
/// </summary>
public sealed class RangeBatchNormFactory : INormalizationFactory
{
    /// <summary>A factory whose layers normalize ghost batches of <paramref name="ghostBatch"/> rows; 0 for the whole batch.</summary>
    public RangeBatchNormFactory(int ghostBatch = 0)
    {
        if (ghostBatch < 0) throw new ArgumentOutOfRangeException(nameof(ghostBatch), ghostBatch, "the ghost batch size must be >= 0 (0 = the whole batch)");
        GhostBatch = ghostBatch;
    }

    /// <summary>Rows per ghost batch; 0 for the whole batch.</summary>
    public int GhostBatch { get; }

    private long Rows => GhostBatch == 0 ? long.MaxValue : GhostBatch;

    /// <inheritdoc/>
    public nn.Module<Tensor, Tensor> Norm2d(long channels) => new RangeBatchNorm(channels, Rows, [4]);

    /// <inheritdoc/>
    public nn.Module<Tensor, Tensor> Norm1d(long features) => new RangeBatchNorm(features, Rows, [2, 3]);

    /// <inheritdoc/>
    public bool Normalizes => true;
}
