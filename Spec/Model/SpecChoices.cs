namespace Orchestrator.Spec;

// The spec's closed choices as typed values. Their YAML names live in SpecNames, and only there; the
// declaration order of each enum is the order "must be one of ..." lists the names in.

/// <summary>Compute device choice: <c>auto</c> takes CUDA when present, else CPU.</summary>
public enum DeviceKind { Auto, Cpu, Cuda }

/// <summary><c>compression.codec</c>: fp32, int8 quantization, N:M pruning, or both; or PowerSGD's low-rank factors.</summary>
public enum CodecKind { None, Int8, Nm, NmInt8, PowerSgd }

/// <summary><c>compression.pruner</c>: unbiased MVUE, or greedy top-N (the biased baseline).</summary>
public enum PrunerKind { Mvue, Greedy }

/// <summary>
/// <c>training.gradient_sparsity.gemms</c>: which backward GEMMs take the pruned neural gradient: both (the input-gradient
/// GEMM too, so pruning noise propagates to earlier layers), or only the weight-gradient GEMM (the update phase; the
/// input gradient propagates dense).
/// </summary>
public enum GradientGemms { Both, WeightGradient }

/// <summary><c>compression.algorithm</c>: compressed ring or allgather, or plain fp32 MPI_Allreduce.</summary>
public enum AllreduceKind { Ring, Allgather, Mpi }

/// <summary><c>model.kind</c>.</summary>
public enum ModelKind { Mlp, Cnn, ResNet20, ResNet44 }

/// <summary><c>model.norm</c>: batch normalization, ghost batch normalization over <c>training.ghost_batch</c> rows, none, or
/// range batch normalization (sigma from chunk ranges; per ghost batch when <c>training.ghost_batch</c> is set).</summary>
public enum NormKind { Batch, GhostBatch, None, RangeBatch }

/// <summary><c>model.classifier</c>: a learned linear layer, or fixed Hadamard rows with learned scale and bias.</summary>
public enum ClassifierKind { Linear, Hadamard }

/// <summary><c>data.dataset</c>.</summary>
public enum DatasetKind { FashionMnist, MnistIdx, Cifar10, Synthetic }

/// <summary><c>training.optimizer.kind</c>.</summary>
public enum OptimizerKind { Sgd }

/// <summary><c>training.mixed_size.mode</c>: off, B+ (batch scales with (base/size)^2) or D+ (batch-augmentation copies scale instead).</summary>
public enum MixedSizeMode { Off, BPlus, DPlus }

/// <summary><c>training.regime.lr_scaling</c>: every lr times 1, sqrt(B/base) or B/base.</summary>
public enum LrScalingKind { None, Sqrt, Linear }

/// <summary><c>training.regime.phases[i].schedule</c>: the lr path within a phase.</summary>
public enum ScheduleKind { Constant, Linear, Cosine, Exp }

/// <summary><c>scaling.policy</c>: what stays fixed when the job runs on another worker count (see <see cref="ScalingSpec"/>).</summary>
public enum ScalingPolicy { KeepGlobalBatch, KeepWorkerBatch }

/// <summary><c>scaling.on_node_loss</c>: after a node of the gang is lost, restart with the same worker count (waiting for
/// capacity if the live nodes lack it), or shrink to as many workers as the live nodes hold (not below <c>scaling.min_workers</c>).</summary>
public enum NodeLossPolicy { Restart, Shrink }

/// <summary><c>placement.policy</c>: fill as few nodes as possible (pack), or use as many as possible (spread).</summary>
public enum PlacementPolicy { Pack, Spread }

/// <summary><c>model.weight_sparsity.method</c>: how a transposable N:M block mask is chosen.</summary>
public enum MaskMethod { Greedy, Optimal }

/// <summary>What the choices mean beyond their names: the properties code downstream of validation switches on.</summary>
public static class SpecChoiceProperties
{
    /// <summary>Whether the codec changes what travels (anything but plain fp32).</summary>
    public static bool Compresses(this CodecKind codec) => codec != CodecKind.None;

    /// <summary>Whether the codec prunes N:M (so <c>n</c>, <c>m</c> and <c>pruner</c> are used and checked).</summary>
    public static bool Prunes(this CodecKind codec) => codec is CodecKind.Nm or CodecKind.NmInt8;

    /// <summary>
    /// Whether the codec is PowerSGD's low-rank factorization (so <c>compression.rank</c> is used and checked). It is not a
    /// byte encoding of a bucket (no <c>IGradientCodec</c>): its factors P and Q travel as fp32 sums.
    /// </summary>
    public static bool Factorizes(this CodecKind codec) => codec == CodecKind.PowerSgd;

    /// <summary>
    /// Whether <paramref name="algorithm"/> can average buckets compressed with <paramref name="codec"/>. <c>mpi</c> is plain fp32
    /// MPI_Allreduce: it carries codec none, and powersgd, whose factors are fp32 sums; ring and allgather carry none and
    /// the codecs that encode a bucket into bytes (int8, nm, nm+int8), not powersgd. The one statement of the rule: the
    /// validator, <c>MpiAllreduce</c> and the collectives check all ask it.
    /// </summary>
    public static bool Carries(this AllreduceKind algorithm, CodecKind codec) =>
        codec == CodecKind.None || (codec.Factorizes() ? algorithm == AllreduceKind.Mpi : algorithm != AllreduceKind.Mpi);

    /// <summary>
    /// Whether the model ends in global average pooling and so accepts any image size (required by
    /// <c>training.mixed_size</c>); mlp and cnn take only the dataset's own size.
    /// </summary>
    public static bool HasGlobalPooling(this ModelKind kind) => kind is ModelKind.ResNet20 or ModelKind.ResNet44;

    /// <summary>Whether the dataset is read from files under <c>data.root</c> (the synthetic one is generated in memory).</summary>
    public static bool ReadsFiles(this DatasetKind dataset) => dataset != DatasetKind.Synthetic;
}
