using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Normalization;

/// <summary>
/// Whether a model normalizes with statistics of its training batch (BatchNorm, ghost and range batch norm), and
/// the smallest batch such a model can train on.
/// </summary>
public static class BatchStatistics
{
    /// <summary>
    /// Rows a worker's batch needs so that its batch statistics exist: the unbiased variance of a single
    /// value is 0/0, which turns the running variance, and so every evaluation, into NaN for good.
    /// </summary>
    public const int MinimumRows = 2;

    /// <summary>Whether any layer of <paramref name="model"/> normalizes by its training batch's statistics.</summary>
    public static bool UsedBy(nn.Module model) => model.modules().Any(m => m is BatchNorm or GhostBatchNorm or RangeBatchNorm);

    /// <summary>The rows each worker's share of a step must have for <paramref name="model"/>: <see cref="MinimumRows"/>
    /// with batch statistics, else 0 (no constraint).</summary>
    public static int MinimumRowsPerWorker(nn.Module model) => UsedBy(model) ? MinimumRows : 0;
}
