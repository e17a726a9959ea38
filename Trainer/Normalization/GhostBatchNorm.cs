using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Normalization;

/// <summary>
/// Ghost Batch Normalization layer (<c>model.norm: ghost_batch</c>); the math is in
/// <see cref="GhostBatchNormFunction"/>. Its parameters and buffers carry BatchNorm's names
/// (weight, bias, running_mean, running_var, num_batches_tracked), so checkpoints, state names and
/// the weight-decay rule (1-d tensors are not decayed) treat it exactly like BatchNorm.
/// </summary>
public sealed class GhostBatchNorm : nn.Module<Tensor, Tensor>
{
    // Field names are the component names: TorchSharp's to(device/dtype) finds and replaces
    // registered tensors through the fields of the same name.
#pragma warning disable IDE1006 // names mirror BatchNorm's state names on purpose
    private Parameter weight;
    private Parameter bias;
    private Tensor running_mean;
    private Tensor running_var;
    private Tensor num_batches_tracked;
#pragma warning restore IDE1006
    private readonly int[] inputDims;

    /// <summary>Creates a layer over <paramref name="features"/> channels.</summary>
    /// <param name="features">Channels (dim 1 of the input).</param>
    /// <param name="ghostBatch">Rows per ghost batch.</param>
    /// <param name="inputDims">Accepted input ranks, as BatchNorm1d (2, 3) or BatchNorm2d (4) accept.</param>
    /// <param name="momentum">Running-statistics momentum.</param>
    /// <param name="eps">Added to the variance.</param>
    public GhostBatchNorm(long features, long ghostBatch, int[] inputDims,
        double momentum = GhostBatchNormFunction.DefaultMomentum, double eps = GhostBatchNormFunction.DefaultEps)
        : base(nameof(GhostBatchNorm))
    {
        if (features < 1) throw new ArgumentOutOfRangeException(nameof(features), features, "need at least one feature");
        if (ghostBatch < 1) throw new ArgumentOutOfRangeException(nameof(ghostBatch), ghostBatch, "the ghost batch size must be positive");
        Features = features;
        GhostBatch = ghostBatch;
        Momentum = momentum;
        Eps = eps;
        this.inputDims = inputDims;
        weight = new Parameter(ones(features));
        bias = new Parameter(zeros(features));
        running_mean = zeros(features);
        running_var = ones(features);
        num_batches_tracked = tensor(0L);
        register_parameter(nameof(weight), weight);
        register_parameter(nameof(bias), bias);
        register_buffer(nameof(running_mean), running_mean);
        register_buffer(nameof(running_var), running_var);
        register_buffer(nameof(num_batches_tracked), num_batches_tracked);
    }

    /// <summary>Channels normalized.</summary>
    public long Features { get; }

    /// <summary>Rows per ghost batch (settable so running statistics can be re-estimated over whole batches).</summary>
    public long GhostBatch { get; set; }

    /// <summary>Running-statistics momentum (settable for re-estimation as a cumulative average).</summary>
    public double Momentum { get; set; }

    /// <summary>Whether contiguous float32 CPU input takes the fused path (true) or the generic one, to compare them.</summary>
    internal bool FusedCpu { get; set; } = true;

    /// <summary>Running statistics back to their initial values (mean 0, variance 1, no batches).</summary>
    public void ResetRunningStats()
    {
        using var noGrad = no_grad();
        running_mean.zero_();
        running_var.fill_(1);
        num_batches_tracked.zero_();
    }

    /// <summary>Added to the variance.</summary>
    public double Eps { get; }

    /// <summary>gamma, shared by all ghost batches.</summary>
    public Parameter Weight => weight;

    /// <summary>beta, shared by all ghost batches.</summary>
    public Parameter Bias => bias;

    /// <summary>Running mean, used in eval mode.</summary>
    public Tensor RunningMean => running_mean;

    /// <summary>Running unbiased variance, used in eval mode.</summary>
    public Tensor RunningVar => running_var;

    /// <summary>Running-statistics updates so far: one per ghost batch, as if BatchNorm had seen each in turn.</summary>
    public Tensor NumBatchesTracked => num_batches_tracked;

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        if (!inputDims.Contains((int)input.dim()))
            throw new ArgumentException($"{nameof(GhostBatchNorm)}: expected {string.Join(" or ", inputDims)}-d input, got {input.dim()}-d", nameof(input));
        if (training)
        {
            using var _ = no_grad();
            num_batches_tracked.add_(GhostBatchNormFunction.ChunkSizes(input.shape[0], GhostBatch).Length);
        }
        return GhostBatchNormFunction.Forward(input, running_mean, running_var, weight, bias, training, GhostBatch, Momentum, Eps, FusedCpu, get_num_threads());
    }
}
