using Orchestrator.Spec;
using Orchestrator.Trainer.Normalization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.PostTraining.Calibration;

/// <summary>
/// One normalization layer of a trained model as synthetic calibration sees it: its running mean and deviation (the
/// targets, copied) and how the layer would compute the same two statistics from a batch of its input.
/// </summary>
/// <remarks>
/// BatchNorm and ghost batch norm keep a running variance: the target deviation is sqrt(running_var + eps) and the
/// batch's is sqrt(unbiased variance + eps) over the whole batch (<see cref="NormLayerStatistics.MeanStd"/>; the
/// average of ghost batches' variances estimates the same population variance). Range batch norm keeps sigma^ itself,
/// a range-based estimate whose bias depends on how many values each range covers, so its batch statistic is the
/// layer's own estimator over the layer's ghost batches (<see cref="NormLayerStatistics.RangeMeanStd"/>).
/// </remarks>
internal sealed class NormLayerTarget : IDisposable
{
    private readonly Func<Tensor, (Tensor Mean, Tensor Std)> statistics;

    private NormLayerTarget(string name, NormKind kind, nn.Module<Tensor, Tensor> module, Tensor runningMean, Tensor runningStd,
        Func<Tensor, (Tensor Mean, Tensor Std)> statistics)
    {
        Name = name;
        Kind = kind;
        Module = module;
        RunningMean = runningMean;
        RunningStd = runningStd;
        this.statistics = statistics;
    }

    /// <summary>The layer's name in the model (e.g. <c>features.norm1</c>).</summary>
    public string Name { get; }

    /// <summary>Which normalization it is.</summary>
    public NormKind Kind { get; }

    /// <summary>The layer.</summary>
    public nn.Module<Tensor, Tensor> Module { get; }

    /// <summary>Copy of the running mean [C] (target of the batch mean).</summary>
    public Tensor RunningMean { get; }

    /// <summary>The running deviation [C] (target of the batch deviation), computed from the layer's buffers.</summary>
    public Tensor RunningStd { get; }

    /// <summary>Channels normalized.</summary>
    public long Channels => RunningMean.shape[0];

    /// <summary>The batch mean and deviation [C] of <paramref name="input"/>, differentiable in it.</summary>
    public (Tensor Mean, Tensor Std) BatchStatistics(Tensor input) => statistics(input);

    /// <summary>The normalization layers of <paramref name="model"/> (itself included) that keep running statistics, in
    /// module order.</summary>
    public static List<NormLayerTarget> Find(nn.Module model)
    {
        var found = new List<NormLayerTarget>();
        using var noGrad = no_grad();
        var modules = model.named_modules().Where(m => !ReferenceEquals(m.module, model)).Prepend(("", model));
        foreach (var (name, module) in modules)
        {
            switch (module)
            {
                case BatchNorm bn when bn.track_running_stats && bn.running_mean is not null && bn.running_var is not null:
                {
                    double eps = bn.eps;
                    found.Add(new NormLayerTarget(name, NormKind.Batch, bn, bn.running_mean.detach().clone(),
                        (bn.running_var + eps).sqrt_().detach(), input => NormLayerStatistics.MeanStd(input, eps)));
                    break;
                }
                case GhostBatchNorm ghost:
                {
                    double eps = ghost.Eps;
                    found.Add(new NormLayerTarget(name, NormKind.GhostBatch, ghost, ghost.RunningMean.detach().clone(),
                        (ghost.RunningVar + eps).sqrt_().detach(), input => NormLayerStatistics.MeanStd(input, eps)));
                    break;
                }
                case RangeBatchNorm range:
                {
                    long ghostBatch = range.GhostBatch;
                    int chunks = range.Chunks;
                    found.Add(new NormLayerTarget(name, NormKind.RangeBatch, range, range.RunningMean.detach().clone(),
                        range.RunningStd.detach().clone(), input => NormLayerStatistics.RangeMeanStd(input, ghostBatch, chunks)));
                    break;
                }
            }
        }
        return found;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        RunningMean.Dispose();
        RunningStd.Dispose();
    }
}
