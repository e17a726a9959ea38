namespace Orchestrator.Spec;

/// <summary>The allowed values of the job spec's string-valued choices.</summary>
public static class SpecVocabulary
{
    /// <summary>Allowed <c>model.kind</c> values.</summary>
    public static IReadOnlyList<string> ModelKinds { get; } = ["mlp", "cnn", "resnet20", "resnet44"];

    /// <summary>Allowed <c>model.norm</c> values.</summary>
    public static IReadOnlyList<string> Norms { get; } = ["batch", GhostBatchNorm, "none"];

    /// <summary>The <c>model.norm</c> value that normalizes over ghost batches of <c>training.ghost_batch</c> samples.</summary>
    public const string GhostBatchNorm = "ghost_batch";

    /// <summary>Allowed <c>model.classifier</c> values: a learned linear layer, or fixed Hadamard rows.</summary>
    public static IReadOnlyList<string> Classifiers { get; } = ["linear", "hadamard"];

    /// <summary>
    /// <c>model.kind</c> values that end in global average pooling and so accept any image size
    /// (required by <c>training.mixed_size</c>); mlp and cnn take only the dataset's own size.
    /// </summary>
    public static IReadOnlyList<string> GlobalPoolingModelKinds { get; } = ["resnet20", "resnet44"];

    /// <summary>Smallest image side (pixels) the models accept; mixed sizes below it are rejected.</summary>
    public const int MinImageSize = 8;

    /// <summary>Allowed <c>scaling.policy</c> values.</summary>
    public static IReadOnlyList<string> ScalingPolicies { get; } = [ScalingSpec.KeepGlobalBatch, ScalingSpec.KeepWorkerBatch];

    /// <summary>Allowed <c>data.dataset</c> values.</summary>
    public static IReadOnlyList<string> Datasets { get; } = ["fashion-mnist", "mnist-idx", "cifar10", Synthetic];

    /// <summary>Allowed <c>training.optimizer.kind</c> values.</summary>
    public static IReadOnlyList<string> OptimizerKinds { get; } = ["sgd"];

    /// <summary>Allowed <c>training.mixed_size.mode</c> values: off, B+ (batch scales with size) or D+ (copies scale).</summary>
    public static IReadOnlyList<string> MixedSizeModes { get; } = [MixedSizeOff, "B+", "D+"];

    /// <summary>The <c>training.mixed_size.mode</c> that disables Mix &amp; Match.</summary>
    public const string MixedSizeOff = "off";

    /// <summary>Allowed <c>training.regime.lr_scaling</c> values: lr times 1, sqrt(B/base) or B/base.</summary>
    public static IReadOnlyList<string> LrScalings { get; } = ["none", "sqrt", "linear"];

    /// <summary>Allowed <c>training.regime.phases[i].schedule</c> values: the lr path within a phase.</summary>
    public static IReadOnlyList<string> Schedules { get; } = [ConstantSchedule, "linear", "cosine", ExpSchedule];

    /// <summary>The schedule that holds the phase's lr (and ignores <c>end_lr</c>).</summary>
    public const string ConstantSchedule = "constant";

    /// <summary>The exponential schedule, which needs a positive <c>end_lr</c>.</summary>
    public const string ExpSchedule = "exp";

    /// <summary>The generated dataset, which needs no files (so <c>data.root</c> is ignored).</summary>
    public const string Synthetic = "synthetic";

    /// <summary>Allowed <c>compression.codec</c> values: fp32, int8 quantization, N:M pruning, or both.</summary>
    public static IReadOnlyList<string> Codecs { get; } = [NoCodec, "int8", "nm", "nm+int8"];

    /// <summary>The <c>compression.codec</c> that sends gradients as plain fp32.</summary>
    public const string NoCodec = "none";

    /// <summary><c>compression.codec</c> values that prune N:M (so <c>n</c> and <c>m</c> are used and checked).</summary>
    public static IReadOnlyList<string> PruningCodecs { get; } = ["nm", "nm+int8"];

    /// <summary>Allowed <c>compression.pruner</c> values: unbiased MVUE, or greedy top-N (biased baseline).</summary>
    public static IReadOnlyList<string> Pruners { get; } = ["mvue", "greedy"];

    /// <summary>Allowed <c>compression.algorithm</c> values: compressed ring or allgather, or plain fp32 MPI_Allreduce.</summary>
    public static IReadOnlyList<string> Algorithms { get; } = ["ring", "allgather", MpiAlgorithm];

    /// <summary>The <c>compression.algorithm</c> that is plain fp32 MPI_Allreduce and so needs codec none.</summary>
    public const string MpiAlgorithm = "mpi";

    /// <summary>Largest TCP port (<c>metrics.port</c>).</summary>
    public const int MaxPort = 65535;

    /// <summary>Most data-parallel workers a job may ask for.</summary>
    public const int MaxWorkers = 1024;

    /// <summary>Largest N:M block length (<c>compression.m</c>).</summary>
    public const int MaxBlockLength = 16;

    /// <summary>Largest gradient bucket (<c>compression.bucket_mb</c>), in MB.</summary>
    public const double MaxBucketMb = 1024;

    /// <summary>Largest <c>fault.max_restarts</c>.</summary>
    public const int MaxRestarts = 100;

    /// <summary>Largest <c>fault.restart_backoff_seconds</c> (one hour).</summary>
    public const double MaxRestartBackoffSeconds = 3600;
}
