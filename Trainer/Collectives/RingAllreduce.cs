using Orchestrator.Spec;
using System.Diagnostics;
using Orchestrator.Trainer.Compression;

namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// Bandwidth-optimal ring: the bucket is split into W chunks; a reduce-scatter of W-1 hops passes
/// each chunk's partial sum around the ring (each hop decodes the incoming encoding, adds its own
/// values and re-encodes), so rank r ends owning the full sum of chunk r; then each owner encodes
/// its chunk once more and the final encodings are allgathered. Each rank sends about 2 (W-1)/W of
/// one encoded bucket whatever W is.
/// </summary>
/// <remarks>
/// Bit-identity across ranks holds because every rank, the owner included, takes each chunk from the
/// same final encoding: the owner overwrites its fp32 sum with decode(encode(sum)). Using the fp32 sum
/// instead would leave the owner's parameters a rounding error away from everybody else's. Sums are
/// accumulated in ring order (chunk c from rank c+1 around to c), not rank order, so the result can
/// differ from <see cref="AllgatherAllreduce"/> in the last bits.
/// <para>
/// Error feedback: each rank encodes every chunk exactly once per allreduce (hop s sends chunk r-1-s,
/// which covers every chunk but r; the final phase encodes chunk r), and what that encoding adds to the
/// chunk's running sum is this rank's contribution as sent: the decoded outgoing message minus the
/// decoded incoming partial sum it was built on. Its error, the encoded fp32 values minus their
/// decoding, is therefore exactly (this rank's compensated values) - (its contribution as sent), and
/// that is what the residual receives, chunk by chunk. Summed over ranks the errors telescope, so
/// W x result = sum of the compensated buckets - sum of the residuals (up to fp32 rounding): no
/// encoding's error is lost, including the re-encodings of partial sums that mix several ranks' values
/// (with a biased codec those would otherwise accumulate step after step). It costs one decode per
/// hop; the final phase's decode is done anyway.
/// </para>
/// </remarks>
public sealed class RingAllreduce : IAllreduceAlgorithm
{
    private const int ReduceScatterTag = 0x5253; // "RS"

    private readonly ICommunicator communicator;
    private readonly int[] counts;
    private byte[] send = [];
    private byte[] receive = [];
    private byte[] gathered = [];

    /// <summary>Binds the ring to <paramref name="communicator"/>: ranks r and r+1 (mod W) are neighbours.</summary>
    public RingAllreduce(ICommunicator communicator)
    {
        this.communicator = communicator;
        counts = new int[communicator.Size];
    }

    /// <inheritdoc/>
    public AllreduceKind Kind => AllreduceKind.Ring;

    /// <inheritdoc/>
    public void Allreduce<TBucket>(ref TBucket bucket, ulong seed, AllreduceStats stats) where TBucket : IBucketValues, allows ref struct
    {
        int ranks = communicator.Size, rank = communicator.Rank, n = bucket.Length;
        int next = (rank + 1) % ranks, previous = (rank + ranks - 1) % ranks;
        stats.AddCall();
        if (n == 0) return;

        // Chunk 0 is the longest; empty chunks (n < W) travel as empty messages so every rank keeps step.
        int maxBytes = EncodedBytes(ref bucket, BucketMath.Chunk(n, ranks, 0).Length);
        BucketMath.Ensure(ref send, maxBytes);
        BucketMath.Ensure(ref receive, maxBytes);
        long sent = 0, received = 0;
        long t = Stopwatch.GetTimestamp();

        bool feedback = bucket.HasResidual; // see remarks: each encoding's error goes into its chunk's residual

        // Reduce-scatter: at hop s rank r forwards chunk r-1-s (its own values at s = 0, afterwards the
        // partial sum it just accumulated) and accumulates chunk r-2-s; at the last hop that is chunk r.
        for (int hop = 0; hop < ranks - 1; hop++)
        {
            var (sendStart, sendLength) = BucketMath.Chunk(n, ranks, Mod(rank - 1 - hop, ranks));
            var (receiveStart, receiveLength) = BucketMath.Chunk(n, ranks, Mod(rank - 2 - hop, ranks));
            int sendBytes = EncodedBytes(ref bucket, sendLength), receiveBytes = EncodedBytes(ref bucket, receiveLength);
            if (sendLength > 0)
                bucket.Encode(sendStart, sendLength, send.AsSpan(0, sendBytes), BucketMath.Seed(seed, rank, hop));
            if (feedback && sendLength > 0)
            {
                // This rank never reads this chunk's slice again before the final phase overwrites it (the next
                // rank accumulates the chunk), so the slice can hold the decoded message while the error is taken.
                bucket.KeepInResidual(sendStart, sendLength);
                bucket.Decode(send.AsSpan(0, sendBytes), sendStart, sendLength);
                bucket.SubtractFromResidual(sendStart, sendLength);
            }
            t = stats.AddCodec(t);
            int got = communicator.SendReceive(send.AsSpan(0, sendBytes), next, ReduceScatterTag,
                receive.AsSpan(0, receiveBytes), previous, ReduceScatterTag);
            t = stats.AddCommunication(t);
            if (got != receiveBytes)
                throw new InvalidOperationException($"ring hop {hop}: rank {previous} sent {got} bytes, expected {receiveBytes} (bucket sizes differ across ranks?)");
            if (receiveLength > 0)
                bucket.DecodeAdd(receive.AsSpan(0, receiveBytes), receiveStart, receiveLength);
            sent += sendBytes;
            received += receiveBytes;
        }

        // Allgather of the final encodings: rank r contributes chunk r, so the gathered bytes are the
        // chunks in order and every rank knows every length without asking.
        long total = 0;
        for (int c = 0; c < ranks; c++) total += counts[c] = EncodedBytes(ref bucket, BucketMath.Chunk(n, ranks, c).Length);
        // Room for W blocks of the longest chunk: the communicator gathers padded blocks in place (see ICommunicator).
        BucketMath.Ensure(ref gathered, checked(ranks * maxBytes));
        var (ownStart, ownLength) = BucketMath.Chunk(n, ranks, rank);
        if (ownLength > 0)
            bucket.Encode(ownStart, ownLength, send.AsSpan(0, counts[rank]), BucketMath.Seed(seed, rank, ranks - 1));
        // The chunk's full sum, kept until its decoding below is known (its error is this rank's too).
        if (feedback) bucket.KeepInResidual(ownStart, ownLength);
        t = stats.AddCodec(t);
        communicator.Allgather(send.AsSpan(0, counts[rank]), counts, gathered.AsSpan(0, ranks * maxBytes));
        t = stats.AddCommunication(t);

        int offset = 0;
        for (int c = 0; c < ranks; c++)
        {
            var (start, length) = BucketMath.Chunk(n, ranks, c);
            // The owner too decodes its own final encoding (the invariant above).
            if (length > 0) bucket.Decode(gathered.AsSpan(offset, counts[c]), start, length);
            offset += counts[c];
        }
        // Before the division: errors are in the units of the sums that were encoded.
        if (feedback) bucket.SubtractFromResidual(ownStart, ownLength);
        bucket.DivideBy(ranks);
        stats.AddCodec(t);
        // Allgather traffic: every chunk but its own reaches a rank, and a ring forwards as much as it receives.
        long others = total - counts[rank];
        stats.AddTraffic(sent + others, received + others);
    }

    private static int EncodedBytes<TBucket>(ref TBucket bucket, int elements) where TBucket : IBucketValues, allows ref struct =>
        elements == 0 ? 0 : bucket.EncodedBytes(elements);

    private static int Mod(int value, int modulus) => ((value % modulus) + modulus) % modulus;
}
