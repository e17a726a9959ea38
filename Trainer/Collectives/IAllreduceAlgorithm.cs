using Orchestrator.Spec;
using Orchestrator.Trainer.Compression;

namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// One way to average a flat fp32 gradient bucket across the ranks of a communicator (Horovod's
/// interchangeable collective ops). Instances are bound to one communicator, keep reusable scratch
/// buffers and are not thread-safe.
/// </summary>
/// <remarks>
/// Contract, relied on by the trainer to keep parameters bit-identical: on return every rank's
/// <c>bucket</c> holds the same bits, the MEAN over ranks of the (codec round-tripped) buckets.
/// The mean, not the sum, because data-parallel SGD applies the average gradient and dividing here
/// happens once, on identical values, on every rank.
/// </remarks>
public interface IAllreduceAlgorithm
{
    /// <summary>The spec's <c>compression.algorithm</c> this is.</summary>
    AllreduceKind Kind { get; }

    /// <summary>
    /// Replaces the values of <paramref name="bucket"/> (same length on every rank) by the mean across ranks.
    /// <paramref name="seed"/> must be the same on every rank (e.g. derived from the step number);
    /// each rank and hop derives its own codec seed from it, so stochastic rounding is independent
    /// across ranks yet reproducible. Time and traffic are added to <paramref name="stats"/>.
    /// </summary>
    /// <param name="bucket">The values, their codec and (error feedback) their residual memory, on the host
    /// (<see cref="HostBucketValues"/>) or on a device (<see cref="DeviceBucketValues"/>). The residual receives this
    /// rank's compression error: the values on entry minus the decoded value of this rank's contribution exactly as it
    /// was sent (what its messages added to the sums), in the units of the sum, not the mean. Summed over ranks:
    /// W x result = sum of the buckets - sum of the residuals, up to fp32 rounding. Only the algorithm knows which
    /// encodings carried this rank's values, so it computes the error itself; the caller adds it to the next step's
    /// gradient.</param>
    void Allreduce<TBucket>(ref TBucket bucket, ulong seed, AllreduceStats stats) where TBucket : IBucketValues, allows ref struct;
}

/// <summary>The span form of <see cref="IAllreduceAlgorithm.Allreduce"/> for buckets in host memory.</summary>
public static class AllreduceAlgorithmExtensions
{
    /// <summary>Averages <paramref name="bucket"/> across ranks with <paramref name="codec"/> (see
    /// <see cref="IAllreduceAlgorithm.Allreduce"/>); <paramref name="residual"/> is empty or one value per bucket value.</summary>
    public static void Allreduce(this IAllreduceAlgorithm algorithm, Span<float> bucket, IGradientCodec codec, ulong seed, AllreduceStats stats, Span<float> residual = default)
    {
        var values = new HostBucketValues(bucket, codec, residual);
        algorithm.Allreduce(ref values, seed, stats);
    }
}
