namespace Orchestrator.Spec;

/// <summary>A training job as the user wrote it in YAML, after defaults, overrides and validation.</summary>
/// <param name="Name">DNS-1123 label; becomes process, file and Kubernetes names.</param>
/// <param name="Device">Where the workers compute.</param>
/// <param name="Workers">Data-parallel worker processes (one GPU each, CPU here) the launcher starts.</param>
/// <param name="Compression">How gradients are averaged across workers; null = plain fp32 allreduce defaults.</param>
/// <param name="Metrics">Where each worker serves Prometheus metrics; null = <see cref="MetricsSpec.Default"/>.</param>
/// <param name="Fault">Stall detection and restart policy of the control plane; null = <see cref="FaultSpec.Default"/>.</param>
/// <param name="Scaling">What a change of the worker count keeps fixed; null = <see cref="ScalingSpec.Default"/>.</param>
/// <param name="Placement">How the gang's ranks spread over the cluster's nodes; null = <see cref="PlacementSpec.Default"/>.</param>
public sealed record JobSpec(
    string Name,
    DeviceKind Device,
    ModelSpec Model,
    DataSpec Data,
    TrainingSpec Training,
    CheckpointSpec Checkpoint,
    int Workers = 1,
    CompressionSpec? Compression = null,
    MetricsSpec? Metrics = null,
    FaultSpec? Fault = null,
    ScalingSpec? Scaling = null,
    PlacementSpec? Placement = null)
{
    /// <summary>Compression settings with the defaults filled in.</summary>
    public CompressionSpec CompressionOrDefault => Compression ?? CompressionSpec.Default;

    /// <summary>Metrics endpoint settings with the defaults filled in.</summary>
    public MetricsSpec MetricsOrDefault => Metrics ?? MetricsSpec.Default;

    /// <summary>Fault-handling settings with the defaults filled in.</summary>
    public FaultSpec FaultOrDefault => Fault ?? FaultSpec.Default;

    /// <summary>Scaling settings with the defaults filled in.</summary>
    public ScalingSpec ScalingOrDefault => Scaling ?? ScalingSpec.Default;

    /// <summary>Placement settings with the defaults filled in.</summary>
    public PlacementSpec PlacementOrDefault => Placement ?? PlacementSpec.Default;
}

/// <summary>
/// Where a job's ranks run on a cluster of several nodes. Ranks are numbered node by node (rank 0 and its neighbours on the
/// first node), as Hydra's host list gives them, so ranks of one node share memory.
/// </summary>
/// <param name="RanksPerNode">At most this many ranks on any one node (like <c>mpirun -ppn</c>, torchrun's
/// <c>nproc_per_node</c>); 0 = as many as a node has free slots.</param>
/// <param name="Policy"><c>pack</c> (default): as few nodes as possible, so most traffic stays inside a node; <c>spread</c>: as many
/// nodes as possible, ranks dealt out in turn (more network, less contention for a node's memory bandwidth).</param>
public sealed record PlacementSpec(int RanksPerNode, PlacementPolicy Policy)
{
    /// <summary>Pack, no per-node limit beyond the node's slots.</summary>
    public static PlacementSpec Default { get; } = new(0, PlacementPolicy.Pack);
}

/// <summary>
/// What stays fixed when the job runs on a different worker count than <c>workers</c> (after <c>orchestrator scale</c>).
/// <c>keep_global_batch</c>: <c>training.global_batch</c> is split over whatever workers run (each rank's batch changes).
/// <c>keep_worker_batch</c>: each rank keeps <c>global_batch / workers</c> samples, so the global batch becomes that times
/// the running worker count, and the regime (lr scaling, adapted epochs) follows the new global batch.
/// </summary>
public sealed record ScalingSpec(ScalingPolicy Policy, NodeLossPolicy OnNodeLoss = NodeLossPolicy.Restart, int MinWorkers = 1)
{
    /// <summary>Keeps the global batch; a node loss restarts the job at its size.</summary>
    public static ScalingSpec Default { get; } = new(ScalingPolicy.KeepGlobalBatch);

    /// <summary>Whether the per-rank batch, not the global batch, stays fixed.</summary>
    public bool KeepsWorkerBatch => Policy == ScalingPolicy.KeepWorkerBatch;

    /// <summary>The fewest workers a node loss may shrink the job to; null when a node loss never shrinks it.</summary>
    public int? ShrinkFloor => OnNodeLoss == NodeLossPolicy.Shrink ? MinWorkers : null;
}

/// <summary>How the control plane recovers a job: a worker that dies, or step progress that stalls, tears the
/// gang down and restarts it from the newest checkpoint, at most <paramref name="MaxRestarts"/> times.</summary>
/// <param name="StallSeconds">A running job with no step progress (heartbeats) for this long is treated as failed.</param>
/// <param name="MaxRestarts">Restarts allowed before the job is Failed; 0 = the first failure is final.</param>
/// <param name="RestartBackoffSeconds">Wait before restart 1; doubled for each later restart (capped at 60 s or this, whichever is larger).</param>
public sealed record FaultSpec(int StallSeconds, int MaxRestarts, double RestartBackoffSeconds)
{
    /// <summary>120 s stall timeout, 3 restarts, 1 s backoff.</summary>
    public static FaultSpec Default { get; } = new(120, 3, 1);
}

/// <summary>The Prometheus <c>/metrics</c> endpoint of every worker: rank R listens on <c>Host:Port+R</c>.</summary>
/// <param name="Port">Base port (rank 0's); 0 = no metrics endpoint.</param>
/// <param name="Host">Address to listen on; loopback by default (a scraper on another machine needs 0.0.0.0 or a routable address).</param>
public sealed record MetricsSpec(int Port, string Host)
{
    /// <summary>Port 9400 on loopback.</summary>
    public static MetricsSpec Default { get; } = new(9400, "127.0.0.1");

    /// <summary>Whether an endpoint is served at all.</summary>
    public bool Enabled => Port != 0;
}

/// <summary>Gradient compression for the allreduce (ALGORITHMS.md sections 5, 7 and "Compressed gradient allreduce").</summary>
/// <param name="N">Values kept per block (N of N:M).</param>
/// <param name="M">Block length (M of N:M).</param>
/// <param name="Algorithm">With codec none
/// it averages every bucket (so none + ring compares our ring with MPICH's); with a compressing codec it averages
/// the compressed buckets, and fp32 traffic (warm-up, small tensors) uses MPI_Allreduce. Left out, it is
/// <see cref="JobSpecDefaults.Algorithm"/> of the codec.</param>
/// <param name="BucketMb">Gradient bucket size in MB of fp32.</param>
/// <param name="WarmupSteps">First steps averaged uncompressed (fp32).</param>
/// <param name="ErrorFeedback">Carry each worker's compression error into its next step's gradient. Left out, it is
/// <see cref="JobSpecDefaults.ErrorFeedback"/> of the codec (on for powersgd, which the paper always runs with it).</param>
/// <param name="MinCompressElements">Tensors smaller than this (biases, norm parameters) travel uncompressed.</param>
/// <param name="Overlap">Average each gradient bucket as soon as the last micro-batch's backward has made its gradients
/// final, on a communication thread, while the backward goes on (same results, bit for bit, as averaging after it).</param>
/// <param name="OverlapForward">With <paramref name="Overlap"/>: also overlap the next step's forward with the buckets
/// still in flight. Big buckets travel in pieces of <paramref name="BucketMb"/>, the pieces the next forward needs first go
/// first, and each bucket's update is applied when that forward first needs it (the same parameters, bit for bit, at 2
/// workers; see the README). Not with gradient clipping (it needs every gradient before any update) or powersgd.</param>
/// <param name="Rank">PowerSGD's approximation rank r (each compressed gradient matrix travels as an n x r and an m x r
/// factor); used, and checked (1..<see cref="SpecVocabulary.MaxPowerSgdRank"/>), only for codec powersgd.</param>
public sealed record CompressionSpec(
    CodecKind Codec,
    int N,
    int M,
    PrunerKind Pruner,
    AllreduceKind Algorithm,
    double BucketMb,
    int WarmupSteps,
    bool ErrorFeedback,
    int MinCompressElements = 1024,
    bool Overlap = true,
    int Rank = 2,
    bool OverlapForward = false)
{
    /// <summary>Plain fp32 through MPICH's MPI_Allreduce (the algorithm codec none defaults to).</summary>
    public static CompressionSpec Default { get; } = new(CodecKind.None, 2, 4, PrunerKind.Mvue, AllreduceKind.Mpi, 25, 0, false);

    /// <summary>The N:M pattern of <see cref="N"/> and <see cref="M"/> (used, and valid, only when the codec prunes).</summary>
    public NmPattern Nm => new(N, M);

    /// <summary>The codec as summaries show it: <c>none</c>, <c>int8</c>, <c>2:4 mvue</c>, <c>2:4 mvue+int8</c>, <c>powersgd r2</c>.</summary>
    public string CodecLabel => SpecNames.CodecLabel(Codec, Nm, Pruner, Rank);
}

/// <param name="Width">Channel (or hidden unit) count of the first stage; later stages scale from it.</param>
/// <param name="WeightSparsity">N:M weight masks on conv and linear layers; null = dense.</param>
public sealed record ModelSpec(ModelKind Kind, int Width, NormKind Norm, ClassifierKind Classifier = ClassifierKind.Linear,
    WeightSparsitySpec? WeightSparsity = null);

/// <param name="Root">Directory holding the dataset files.</param>
/// <param name="TrainSubset">Use only the first N training samples (0 = all).</param>
/// <param name="TestSubset">Evaluate on only the first N test samples (0 = all).</param>
public sealed record DataSpec(DatasetKind Dataset, string Root, int TrainSubset, int TestSubset, AugmentSpec Augment);

/// <param name="CropPadding">Zero padding (pixels) before a random crop back to the input size; 0 = off.</param>
/// <param name="Flip">Random horizontal flip with probability 1/2.</param>
/// <param name="Cutout">Side of a square zeroed at a random position; 0 = off.</param>
public sealed record AugmentSpec(int CropPadding, bool Flip, int Cutout);

/// <param name="GlobalBatch">Samples per optimizer step summed over all workers.</param>
/// <param name="Threads">Torch intra-op threads per worker; 0 = all cores.</param>
/// <param name="GhostBatch">Ghost batch size for <c>model.norm: ghost_batch</c>; 0 when unused.</param>
/// <param name="BatchAugmentation">M: augmented copies of every sample in the same step (1 = off).</param>
/// <param name="MixedSize">Mix &amp; Match image sizes; mode off by default.</param>
/// <param name="Regime">Learning-rate regime; null = constant optimizer settings.</param>
/// <param name="MicroBatch">Gradient accumulation: samples of a worker's local batch per forward/backward (each with its
/// batch-augmentation copies); the micro-batches' gradients are summed and synchronized once per step. 0 = the whole
/// local batch in one pass.</param>
/// <param name="Quantize">Low-precision conv and linear layers; null = fp32.</param>
/// <param name="GradientSparsity">N:M pruning of the neural gradients in backward; null = dense.</param>
public sealed record TrainingSpec(
    int Epochs,
    int GlobalBatch,
    OptimizerSpec Optimizer,
    long Seed,
    int Threads,
    int GhostBatch = 0,
    int BatchAugmentation = 1,
    MixedSizeSpec? MixedSize = null,
    RegimeSpec? Regime = null,
    int MicroBatch = 0,
    QuantizeSpec? Quantize = null,
    GradientSparsitySpec? GradientSparsity = null)
{
    /// <summary>Mixed-size settings with the default (off) filled in.</summary>
    public MixedSizeSpec MixedSizeOrOff => MixedSize ?? MixedSizeSpec.Off;
}

/// <summary>Mix &amp; Match: per epoch the samples are split by fractions over image sizes.</summary>
/// <param name="Sizes">Image side lengths in pixels.</param>
/// <param name="Probabilities">Fraction of each epoch's samples at each size; sums to 1.</param>
public sealed record MixedSizeSpec(MixedSizeMode Mode, ValueList<int> Sizes, ValueList<double> Probabilities)
{
    public static MixedSizeSpec Off { get; } = new(MixedSizeMode.Off, [], []);
    public bool Enabled => Mode != MixedSizeMode.Off;
}

/// <summary>A learning-rate regime (ALGORITHMS.md sections 1-2).</summary>
/// <param name="BaseBatch">The batch size the phases' learning rates were tuned for.</param>
/// <param name="AdaptUpdates">Multiply training.epochs and every phase epoch by ceil(global_batch/base_batch).</param>
/// <param name="WarmupEpochs">Linear ramp from 0 to the scaled lr over this many epochs (not adapted).</param>
/// <param name="GradClipNorm">Clip the global L2 norm of the gradient to this; 0 = off.</param>
/// <param name="Phases">Ordered by epoch; each overrides the settings it names.</param>
public sealed record RegimeSpec(
    LrScalingKind LrScaling,
    int BaseBatch,
    bool AdaptUpdates,
    double WarmupEpochs,
    double GradClipNorm,
    ValueList<RegimePhase> Phases);

/// <summary>One phase of a regime, starting at <paramref name="Epoch"/>; null members keep the earlier setting.</summary>
/// <param name="Schedule">The lr path from this phase's lr to <paramref name="EndLr"/> at the next phase (or the end).</param>
/// <param name="EndLr">Target of a non-constant schedule; null = 0 for linear/cosine, lr/100 for exp.</param>
public sealed record RegimePhase(
    double Epoch,
    double? Lr = null,
    double? Momentum = null,
    double? WeightDecay = null,
    bool? Nesterov = null,
    ScheduleKind Schedule = ScheduleKind.Constant,
    double? EndLr = null);

/// <param name="WeightDecay">L2 penalty applied to weights only (never to biases or normalization parameters).</param>
public sealed record OptimizerSpec(OptimizerKind Kind, double Lr, double Momentum, bool Nesterov, double WeightDecay);

/// <param name="EverySteps">Write a checkpoint every N optimizer steps (and at the end); 0 = only at the end.</param>
/// <param name="Keep">Newest checkpoints kept on disk.</param>
public sealed record CheckpointSpec(int EverySteps, int Keep);
