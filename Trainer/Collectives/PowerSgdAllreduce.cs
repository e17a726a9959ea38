using System.Buffers.Binary;
using System.Diagnostics;
using Orchestrator.Trainer.Compression;

namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// The collective half of PowerSGD (the math is <see cref="PowerSgdCompressor"/>'s): per compressed bucket two fp32 sums
/// through MPICH's MPI_Allreduce, of every P (with the bucket's plain values behind them) and of every Q, each divided by W.
/// Every rank then holds the same P and Q and writes the same P Q^T, so parameters stay bit-identical. One compressor
/// per compressed bucket, seeded alike on every rank; not thread-safe (one bucket at a time, on one thread).
/// </summary>
/// <remarks>
/// Checkpoint state (the warm-start Q of every bucket, the same on every rank, so rank 0's), little-endian: int32 magic
/// "PSQ1" | int32 buckets | int32 Q length of each bucket (0 for an fp32 bucket) | the Q values as fp32, bucket after bucket.
/// </remarks>
public sealed class PowerSgdAllreduce
{
    private const int Magic = 0x31515350; // "PSQ1" read as a little-endian int32

    private readonly ICommunicator communicator;
    private readonly PowerSgdCompressor?[] compressors;
    private float[] first = [];
    private float[] factors = [];

    /// <param name="bucketShapes">Per bucket, the shapes of its gradients, or null for a bucket that is never compressed.</param>
    /// <param name="rank">PowerSGD's r.</param>
    /// <param name="seed">The job's seed, the same on every rank.</param>
    public PowerSgdAllreduce(ICommunicator communicator, IEnumerable<IEnumerable<long[]>?> bucketShapes, int rank, long seed)
    {
        this.communicator = communicator;
        compressors = bucketShapes
            .Select((shapes, b) => shapes is null ? null : new PowerSgdCompressor(shapes, rank, BucketSeed(seed, b)))
            .ToArray();
    }

    /// <summary>The compressor of bucket <paramref name="bucket"/> (null for an fp32 bucket).</summary>
    public PowerSgdCompressor? Compressor(int bucket) => compressors[bucket];

    /// <summary>fp32 bytes one rank contributes for bucket <paramref name="bucket"/> (<see cref="PowerSgdCompressor.EncodedBytes"/>).</summary>
    public int EncodedBytes(int bucket) => Of(bucket).EncodedBytes;

    /// <summary>
    /// Replaces <paramref name="values"/> (bucket <paramref name="bucket"/>'s gradient, error-compensated by the caller when
    /// <paramref name="residual"/> is given) by PowerSGD's average across ranks, and writes this rank's new residual
    /// (values on entry minus the average, zero for the plain values) into <paramref name="residual"/> when it is not empty.
    /// </summary>
    public void Allreduce(int bucket, Span<float> values, Span<float> residual, long step, AllreduceStats stats)
    {
        var compressor = Of(bucket);
        var p = BucketMath.Ensure(ref first, compressor.FirstLength).AsSpan(0, compressor.FirstLength);
        var q = BucketMath.Ensure(ref factors, compressor.QLength).AsSpan(0, compressor.QLength);

        long t = Stopwatch.GetTimestamp();
        compressor.ComputeP(values, p);
        t = stats.AddCodec(t);
        Sum(p, stats, ref t);
        compressor.OrthogonalizeP(p);
        compressor.ComputeQ(values, p, q);
        t = stats.AddCodec(t);
        Sum(q, stats, ref t);
        compressor.Finish(p, q, values, residual, step);
        stats.AddCodec(t);
    }

    /// <summary>Every staged Q becomes the warm start (the step was applied).</summary>
    public void Commit()
    {
        foreach (var compressor in compressors) compressor?.Commit();
    }

    /// <summary>Forgets the staged Qs (the step was skipped).</summary>
    public void Discard()
    {
        foreach (var compressor in compressors) compressor?.Discard();
    }

    /// <summary>Every Q back to its first draw (a fresh start, e.g. after an average that was not finite).</summary>
    public void Reset()
    {
        foreach (var compressor in compressors) compressor?.Reset();
    }

    /// <summary>Size of <see cref="WriteState"/>'s output.</summary>
    public int StateBytes => checked(sizeof(int) * (2 + compressors.Length) + compressors.Sum(c => c?.QBytes ?? 0));

    /// <summary>Writes every bucket's warm-start Q (see remarks).</summary>
    public void WriteState(Span<byte> state)
    {
        BinaryPrimitives.WriteInt32LittleEndian(state, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(state[4..], compressors.Length);
        int at = 8;
        foreach (var compressor in compressors)
        {
            BinaryPrimitives.WriteInt32LittleEndian(state[at..], compressor?.QLength ?? 0);
            at += 4;
        }
        foreach (var compressor in compressors)
        {
            if (compressor is null) continue;
            compressor.WriteQ(state.Slice(at, compressor.QBytes));
            at += compressor.QBytes;
        }
    }

    /// <summary>
    /// Takes every bucket's warm-start Q from a state written by <see cref="WriteState"/> with this layout. Otherwise (none
    /// saved, another bucket layout or rank) every Q restarts from its first draw and the reason is returned; null when restored.
    /// </summary>
    public string? Restore(ReadOnlySpan<byte> state)
    {
        Reset();
        if (state.IsEmpty) return "the checkpoint holds no PowerSGD factors (written with another codec)";
        if (state.Length < 8 || BinaryPrimitives.ReadInt32LittleEndian(state) != Magic)
            return "the checkpoint's PowerSGD state is not in a known format";
        int buckets = BinaryPrimitives.ReadInt32LittleEndian(state[4..]);
        bool sameLayout = buckets == compressors.Length && state.Length == StateBytes;
        for (int b = 0; sameLayout && b < buckets; b++)
            sameLayout = BinaryPrimitives.ReadInt32LittleEndian(state[(8 + 4 * b)..]) == (compressors[b]?.QLength ?? 0);
        if (!sameLayout)
            return "the checkpoint's PowerSGD factors have another layout (bucket_mb, min_compress_elements or rank changed)";
        int at = 8 + 4 * buckets;
        foreach (var compressor in compressors)
        {
            if (compressor is null) continue;
            compressor.ReadQ(state.Slice(at, compressor.QBytes));
            at += compressor.QBytes;
        }
        return null;
    }

    /// <summary>fp32 sum across ranks, then / W (every rank divides the same sums: the same bits).</summary>
    private void Sum(Span<float> buffer, AllreduceStats stats, ref long t)
    {
        int ranks = communicator.Size;
        stats.AddCall();
        communicator.AllreduceSum(buffer);
        t = stats.AddCommunication(t);
        BucketMath.DivideBy(buffer, ranks);
        t = stats.AddCodec(t);
        // MPI does not report its traffic; the bandwidth-optimal count (what a ring sends) stands in, as for MpiAllreduce.
        long bytes = 2L * (ranks - 1) * buffer.Length * sizeof(float) / ranks;
        stats.AddTraffic(bytes, bytes);
    }

    private PowerSgdCompressor Of(int bucket) =>
        compressors[bucket] ?? throw new ArgumentException($"bucket {bucket} is not compressed: it travels as fp32", nameof(bucket));

    private static ulong BucketSeed(long seed, int bucket) => (ulong)seed * 0xD1B54A32D192ED03UL ^ (ulong)bucket * 0x9E3779B97F4A7C15UL ^ 0x50575253UL;
}
