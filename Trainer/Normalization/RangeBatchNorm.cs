using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Normalization;

/// <summary>
/// Range batch normalization layer (<c>model.norm: range_batch</c>); the math is in <see cref="RangeBatchNormFunction"/>.
/// Parameters carry BatchNorm's names (weight, bias), so the weight-decay rule (1-d tensors are not decayed)
/// treats them alike; the running statistics are <c>running_mean</c> and <c>running_std</c> (sigma^ itself, not
/// a variance), both named <c>running_*</c> so that workers average them before evaluations and checkpoints as
/// they do BatchNorm's.
/// </summary>
public sealed class RangeBatchNorm : nn.Module<Tensor, Tensor>
{
    // Field names are the component names: TorchSharp's to(device/dtype) finds and replaces
    // registered tensors through the fields of the same name.
#pragma warning disable IDE1006 // names mirror BatchNorm's state names on purpose
    private Parameter weight;
    private Parameter bias;
    private Tensor running_mean;
    private Tensor running_std;
    private Tensor num_batches_tracked;
#pragma warning restore IDE1006
    private readonly int[] inputDims;

    /// <summary>Creates a layer over <paramref name="features"/> channels.</summary>
    /// <param name="features">Channels (dim 1 of the input).</param>
    /// <param name="ghostBatch">Rows per ghost batch, each normalized by its own statistics; <see cref="long.MaxValue"/> for the whole batch.</param>
    /// <param name="inputDims">Accepted input ranks, as BatchNorm1d (2, 3) or BatchNorm2d (4) accept.</param>
    /// <param name="chunks">Chunks per channel the range is taken over.</param>
    /// <param name="momentum">Running-statistics momentum.</param>
    /// <param name="eps">Added to sigma^.</param>
    public RangeBatchNorm(long features, long ghostBatch, int[] inputDims, int chunks = RangeBatchNormFunction.DefaultChunks,
        double momentum = RangeBatchNormFunction.DefaultMomentum, double eps = RangeBatchNormFunction.DefaultEps)
        : base(nameof(RangeBatchNorm))
    {
        if (features < 1) throw new ArgumentOutOfRangeException(nameof(features), features, "need at least one feature");
        if (ghostBatch < 1) throw new ArgumentOutOfRangeException(nameof(ghostBatch), ghostBatch, "the ghost batch size must be positive");
        if (chunks < 1) throw new ArgumentOutOfRangeException(nameof(chunks), chunks, "need at least one chunk");
        Features = features;
        GhostBatch = ghostBatch;
        Chunks = chunks;
        Momentum = momentum;
        Eps = eps;
        this.inputDims = inputDims;
        weight = new Parameter(ones(features));
        bias = new Parameter(zeros(features));
        running_mean = zeros(features);
        running_std = ones(features);
        num_batches_tracked = tensor(0L);
        register_parameter(nameof(weight), weight);
        register_parameter(nameof(bias), bias);
        register_buffer(nameof(running_mean), running_mean);
        register_buffer(nameof(running_std), running_std);
        register_buffer(nameof(num_batches_tracked), num_batches_tracked);
    }

    /// <summary>Channels normalized.</summary>
    public long Features { get; }

    /// <summary>Rows per ghost batch (settable so running statistics can be re-estimated over whole batches).</summary>
    public long GhostBatch { get; set; }

    /// <summary>Chunks per channel the range is taken over.</summary>
    public int Chunks { get; }

    /// <summary>Running-statistics momentum (settable for re-estimation as a cumulative average).</summary>
    public double Momentum { get; set; }

    /// <summary>Added to sigma^.</summary>
    public double Eps { get; }

    /// <summary>gamma.</summary>
    public Parameter Weight => weight;

    /// <summary>beta.</summary>
    public Parameter Bias => bias;

    /// <summary>Running mean, used in eval mode.</summary>
    public Tensor RunningMean => running_mean;

    /// <summary>Running sigma^ (the range-based standard deviation estimate), used in eval mode.</summary>
    public Tensor RunningStd => running_std;

    /// <summary>Running-statistics updates so far: one per (ghost) batch.</summary>
    public Tensor NumBatchesTracked => num_batches_tracked;

    /// <summary>Running statistics back to their initial values (mean 0, sigma^ 1, no batches).</summary>
    public void ResetRunningStats()
    {
        using var noGrad = no_grad();
        running_mean.zero_();
        running_std.fill_(1);
        num_batches_tracked.zero_();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        if (!inputDims.Contains((int)input.dim()))
            throw new ArgumentException($"{nameof(RangeBatchNorm)}: expected {string.Join(" or ", inputDims)}-d input, got {input.dim()}-d", nameof(input));
        if (training)
        {
            using var _ = no_grad();
            num_batches_tracked.add_(GhostBatchNormFunction.ChunkSizes(input.shape[0], GhostBatch).Length);
        }
        return RangeBatchNormFunction.Forward(input, running_mean, running_std, weight, bias, training, GhostBatch, Chunks, Momentum, Eps);
    }
}
