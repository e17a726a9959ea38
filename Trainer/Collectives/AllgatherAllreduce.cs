using System.Diagnostics;
using Orchestrator.Spec;
using Orchestrator.Trainer.Compression;

namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// Every rank encodes its whole bucket, the encodings are allgathered, and every rank decodes and
/// sums them in rank order: the same operations on the same bytes, so the result is bit-identical on
/// every rank by construction. Sends each encoding W-1 times (traffic grows with W), but needs no
/// re-encoding, so compression error is one round trip per rank: the better choice for small W or
/// buckets where latency dominates.
/// </summary>
public sealed class AllgatherAllreduce(ICommunicator communicator) : IAllreduceAlgorithm
{
    private byte[] local = [];
    private byte[] gathered = [];

    /// <inheritdoc/>
    public AllreduceKind Kind => AllreduceKind.Allgather;

    /// <inheritdoc/>
    public void Allreduce<TBucket>(ref TBucket bucket, ulong seed, AllreduceStats stats) where TBucket : IBucketValues, allows ref struct
    {
        int ranks = communicator.Size, n = bucket.Length;
        int bytes = bucket.EncodedBytes(n);
        int total = GatheredBytes(bytes, ranks, n);
        BucketMath.Ensure(ref local, bytes);
        BucketMath.Ensure(ref gathered, total);
        stats.AddCall();
        if (n == 0) return;

        long t = Stopwatch.GetTimestamp();
        bucket.Encode(0, n, local.AsSpan(0, bytes), BucketMath.Seed(seed, communicator.Rank, 0));
        if (bucket.HasResidual)
        {
            // This encoding is the rank's whole contribution, so its error is exact: e = g - D(E(g)).
            // The bucket serves as scratch for D(E(g)); it is cleared before the sum below.
            bucket.KeepInResidual(0, n);
            bucket.Decode(local.AsSpan(0, bytes), 0, n);
            bucket.SubtractFromResidual(0, n);
        }
        t = stats.AddCodec(t);
        // Every encoding has the same size (fixed by the element count), so a plain allgather suffices.
        communicator.Allgather(local.AsSpan(0, bytes), gathered.AsSpan(0, total));
        t = stats.AddCommunication(t);
        // Own contribution too is taken from its encoding: every rank must sum the same values.
        bucket.Clear();
        for (int r = 0; r < ranks; r++)
            bucket.DecodeAdd(gathered.AsSpan(r * bytes, bytes), 0, n);
        bucket.DivideBy(ranks);
        stats.AddCodec(t);
        stats.AddTraffic((long)bytes * (ranks - 1), (long)bytes * (ranks - 1));
    }

    /// <summary>
    /// Size of the gathered buffer: W encodings must fit one .NET array and one MPI count (both below 2 GB),
    /// which a large <c>bucket_mb</c> times many ranks does not (1024 MB of fp32 at W = 2 with codec none, or
    /// 2:4+int8 at W = 13). Same verdict on every rank, so all fail together with the fix in the message.
    /// </summary>
    /// <exception cref="UserFacingException">The ranks' encodings together exceed <see cref="Array.MaxLength"/>.</exception>
    internal static int GatheredBytes(int bytes, int ranks, int elements)
    {
        long total = (long)bytes * ranks;
        if (total <= Array.MaxLength) return (int)total;
        double bucketMb = 4.0 * elements / (1 << 20);
        throw new UserFacingException(
            $"compression.algorithm allgather: {ranks} encodings of a {bucketMb:F0} MB bucket take {total:N0} bytes, more than one buffer holds " +
            $"({Array.MaxLength:N0}); lower compression.bucket_mb to at most {Math.Floor(bucketMb * Array.MaxLength / total)} or use algorithm ring");
    }
}
