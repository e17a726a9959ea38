using Orchestrator.Spec;
using System.Diagnostics;
using Orchestrator.Trainer.Compression;

namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// The baseline: plain fp32 MPI_Allreduce (sum, in place), then division by W. MPICH picks the
/// algorithm (recursive doubling for small buffers, reduce-scatter + allgather for large ones);
/// either way each element's sum is computed once and distributed, or by commutative pairwise adds
/// on identical operands, so every rank holds the same bits (the collectives check asserts it).
/// </summary>
public sealed class MpiAllreduce(ICommunicator communicator) : IAllreduceAlgorithm
{
    /// <inheritdoc/>
    public AllreduceKind Kind => AllreduceKind.Mpi;

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The codec is not <c>none</c>: MPI reduces raw fp32 only.</exception>
    public void Allreduce<TBucket>(ref TBucket bucket, ulong seed, AllreduceStats stats) where TBucket : IBucketValues, allows ref struct
    {
        // Its own guard for direct callers; a validated spec never pairs mpi with a compressing codec.
        if (!Kind.Carries(bucket.CodecKind))
            throw new ArgumentException($"algorithm {Kind.SpecName()} is plain fp32 MPI_Allreduce and needs codec {CodecKind.None.SpecName()}, not {bucket.CodecName}", nameof(bucket));
        bucket.ClearResidual(); // fp32 travels as it is: no compression error to carry
        int ranks = communicator.Size;
        stats.AddCall();
        long t = Stopwatch.GetTimestamp();
        bucket.WithHostValues(values => communicator.AllreduceSum(values));
        t = stats.AddCommunication(t);
        bucket.DivideBy(ranks);
        stats.AddCodec(t);
        // MPI does not report its traffic; the bandwidth-optimal count (what a ring sends) stands in.
        long bytes = 2L * (ranks - 1) * bucket.Length * sizeof(float) / ranks;
        stats.AddTraffic(bytes, bytes);
    }
}
