namespace Orchestrator.Spec;

/// <summary>The values a job spec takes for every key the user leaves out. Only <c>name</c> has none.</summary>
public static class JobSpecDefaults
{
    /// <summary>Default compute device.</summary>
    public static DeviceKind Device => DeviceKind.Auto;

    /// <summary>Default <c>workers</c>: a single process, no gradient exchange.</summary>
    public const int Workers = 1;

    /// <summary>
    /// Compression settings when the <c>compression</c> section is given with keys left out: plain fp32 through
    /// MPI_Allreduce, 2:4 MVUE ready for when a pruning codec is chosen. (With the section absent
    /// <see cref="JobSpec.Compression"/> stays null, which means the same.) A section that names a codec but
    /// no algorithm gets <see cref="Algorithm"/> of that codec.
    /// </summary>
    public static CompressionSpec Compression => CompressionSpec.Default;

    /// <summary>
    /// Default <c>compression.algorithm</c> for <paramref name="codec"/>: <c>mpi</c> for <c>none</c> (MPICH's fp32
    /// allreduce is the fastest way to send uncompressed gradients; ring and allgather stay available to compare)
    /// and <c>ring</c> for the codecs that encode bytes (its traffic per rank does not grow with the worker count);
    /// <c>mpi</c> for powersgd too, the only algorithm that carries its fp32 factors.
    /// </summary>
    public static AllreduceKind Algorithm(CodecKind codec) =>
        codec.Compresses() && !codec.Factorizes() ? AllreduceKind.Ring : AllreduceKind.Mpi;

    /// <summary>
    /// Default <c>compression.error_feedback</c> for <paramref name="codec"/>: on for powersgd (its approximation is biased,
    /// and PowerSGD as published always carries the error; <c>error_feedback: false</c> turns it off, for ablations),
    /// off for the others.
    /// </summary>
    public static bool ErrorFeedback(CodecKind codec) => codec.Factorizes() || Compression.ErrorFeedback;

    /// <summary>
    /// Metrics settings when the <c>metrics</c> section is given with keys left out: port 9400 on 127.0.0.1.
    /// (With the section absent <see cref="JobSpec.Metrics"/> stays null, which means the same.)
    /// </summary>
    public static MetricsSpec Metrics => MetricsSpec.Default;

    /// <summary>
    /// Fault settings when the <c>fault</c> section is given with keys left out: 120 s stall timeout, 3 restarts,
    /// 1 s backoff. (With the section absent <see cref="JobSpec.Fault"/> stays null, which means the same.)
    /// </summary>
    public static FaultSpec Fault => FaultSpec.Default;

    /// <summary>Default model section.</summary>
    public static ModelSpec Model { get; } = new(ModelKind.Cnn, 32, NormKind.Batch, ClassifierKind.Linear);

    /// <summary>Default augmentation: none.</summary>
    public static AugmentSpec Augment { get; } = new(0, false, 0);

    /// <summary>Default data section.</summary>
    public static DataSpec Data { get; } = new(DatasetKind.FashionMnist, "/usr/share/datasets/fashion-mnist", 0, 0, Augment);

    /// <summary>Default optimizer.</summary>
    public static OptimizerSpec Optimizer { get; } = new(OptimizerKind.Sgd, 0.05, 0.9, false, 5e-4);

    /// <summary>Default training section.</summary>
    /// <remarks>Ghost batch unused (0), batch augmentation off (1), mixed size off (null), no regime (null).</remarks>
    public static TrainingSpec Training { get; } = new(5, 256, Optimizer, 1, 0, GhostBatch: 0, BatchAugmentation: 1, MixedSize: null, Regime: null);

    /// <summary>
    /// Mixed-size settings when <c>training.mixed_size</c> is given with keys left out: mode off, no sizes.
    /// (With the section absent <see cref="TrainingSpec.MixedSize"/> stays null, which also means off.)
    /// </summary>
    public static MixedSizeSpec MixedSize => MixedSizeSpec.Off;

    /// <summary>Default <c>training.regime.lr_scaling</c>: phase learning rates are used as written.</summary>
    public const LrScalingKind LrScaling = LrScalingKind.None;

    /// <summary>
    /// Default <c>training.regime.base_batch</c>: the batch each normalization layer sees, i.e. the ghost batch
    /// when one is set, else the global batch (so that with no scaling asked for, none happens).
    /// </summary>
    public static int BaseBatch(int globalBatch, int ghostBatch) => ghostBatch > 0 ? ghostBatch : globalBatch;

    /// <summary>
    /// Default <c>training.regime.phases</c>: one phase from epoch 0 that keeps <c>training.optimizer</c>'s settings.
    /// </summary>
    public static ValueList<RegimePhase> Phases { get; } = [new RegimePhase(0)];

    /// <summary>A regime section given with every key left out.</summary>
    public static RegimeSpec Regime(int globalBatch, int ghostBatch) =>
        new(LrScaling, BaseBatch(globalBatch, ghostBatch), AdaptUpdates: false, WarmupEpochs: 0, GradClipNorm: 0, Phases);

    /// <summary>Default checkpoint section.</summary>
    public static CheckpointSpec Checkpoint { get; } = new(200, 3);
}
