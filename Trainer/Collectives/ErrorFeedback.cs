using System.Buffers.Binary;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// Error feedback (residual memory, as in 1-bit SGD and EF-SGD) of one rank: per compressed bucket, the part
/// of its last gradient that compression did not deliver. It is added to the next gradient before that
/// one is compressed, so a codec's error is delayed instead of lost: over T steps the contributions a
/// rank sent sum to its true gradients minus its last residual, which stays bounded even for a biased
/// codec (the greedy pruner) whose error would otherwise accumulate.
/// </summary>
/// <remarks>
/// <para>
/// The residual after a step is the compensated gradient minus the decoded value of this rank's
/// contribution exactly as the allreduce sent it, not a second, independent encode; the algorithm
/// computes it (see the residual parameter of <see cref="IAllreduceAlgorithm.Allreduce"/>), because only
/// it knows which encodings carried this rank's values (allgather: one encoding of the whole bucket;
/// ring: one per chunk, several of them partial sums that include other ranks' values).
/// </para>
/// <para>
/// Residuals differ across ranks (the averaged update does not) and are training state: a resume without
/// them would not continue bit-exactly. Checkpoint state, gathered on rank 0, little-endian: int32 magic
/// "EFR1" | int32 ranks | int32 buckets | int32 length of each bucket | each rank's residuals in rank
/// order, bucket after bucket, as fp32.
/// </para>
/// <para>
/// Staged (<c>compression.overlap</c>): the buckets are averaged while the backward still runs, before the workers know
/// whether the step will be applied (a non-finite gradient on any worker skips it). The allreduces then write each new
/// residual beside the current one, and <see cref="Commit"/> makes the step's residuals current once the step is applied,
/// so a skipped step leaves every residual as it was, exactly as when the check comes first. It costs a second copy.
/// </para>
/// <para>
/// The residuals live where the buckets do (tensors on the training device), so buckets averaged on a GPU
/// (<see cref="DeviceBucketValues"/>) keep their residuals there; only a checkpoint copies them to the host.
/// </para>
/// </remarks>
public sealed class ErrorFeedback : IDisposable
{
    private const int Magic = 0x31524645; // "EFR1" read as a little-endian int32

    private readonly Tensor[] residuals;
    private readonly Tensor[]? staged;
    private readonly int[] lengths;
    private readonly bool[] written;

    /// <summary>Zero residuals for buckets of <paramref name="bucketElements"/> values (0 for a bucket that
    /// is never compressed, so it needs none).</summary>
    /// <param name="stage">Write each step's residuals beside the current ones until <see cref="Commit"/> (see remarks).</param>
    /// <param name="device">Where the buckets, and so the residuals, live (default: the CPU).</param>
    public ErrorFeedback(IEnumerable<int> bucketElements, bool stage = false, Device? device = null)
    {
        lengths = bucketElements.ToArray();
        residuals = lengths.Select(n => zeros(n, dtype: ScalarType.Float32, device: device ?? CPU).DetachFromDisposeScope()).ToArray();
        staged = stage ? lengths.Select(n => zeros(n, dtype: ScalarType.Float32, device: device ?? CPU).DetachFromDisposeScope()).ToArray() : null;
        written = new bool[residuals.Length];
        PartBytes = checked(lengths.Sum() * sizeof(float));
    }

    /// <summary>Whether new residuals wait for <see cref="Commit"/>.</summary>
    public bool Staged => staged is not null;

    /// <summary>Number of buckets (with or without residual memory).</summary>
    public int Buckets => residuals.Length;

    /// <summary>Bytes of one rank's residuals in the checkpoint state.</summary>
    public int PartBytes { get; }

    /// <summary>Bytes of the state header (before the ranks' residuals).</summary>
    public int HeaderBytes => sizeof(int) * (3 + residuals.Length);

    /// <summary>Bucket <paramref name="bucket"/>'s residual memory, as it stands (a copy when it lives on a device).</summary>
    public ReadOnlySpan<float> Residual(int bucket)
    {
        if (residuals[bucket].device_type == DeviceType.CPU) return HostValues(residuals[bucket]);
        using var host = residuals[bucket].cpu();
        return host.data<float>().ToArray();
    }

    /// <summary>
    /// Adds bucket <paramref name="bucket"/>'s residual to <paramref name="values"/>, making the compensated
    /// gradient, and returns the residual memory for the allreduce to overwrite with the new error (staged: the
    /// memory beside it, current after <see cref="Commit"/>). Buckets may be compensated on another thread than the
    /// one that commits, one step at a time.
    /// </summary>
    public Span<float> Compensate(int bucket, Span<float> values)
    {
        if (lengths[bucket] != values.Length)
            throw new ArgumentException($"bucket {bucket} has {lengths[bucket]} residual values, the gradient {values.Length}", nameof(values));
        return Compensate(bucket, 0, values);
    }

    /// <summary>
    /// <see cref="Compensate(int, Span{float})"/> for a piece of bucket <paramref name="bucket"/> that begins at value
    /// <paramref name="start"/> (<c>compression.overlap_forward</c> sends big buckets in pieces): the residual's same
    /// slice is added, and the slice of the residual memory is returned. Every piece of a bucket is compensated each step.
    /// </summary>
    public Span<float> Compensate(int bucket, int start, Span<float> values)
    {
        CheckPiece(bucket, start, values.Length);
        BucketMath.Add(values, HostValues(residuals[bucket]).Slice(start, values.Length));
        return HostValues(Target(bucket)).Slice(start, values.Length);
    }

    /// <summary>
    /// <see cref="Compensate(int, Span{float})"/> for a bucket that is a tensor on the residuals' device: adds the residual
    /// to <paramref name="values"/> there and returns the residual tensor the allreduce overwrites.
    /// </summary>
    public Tensor Compensate(int bucket, Tensor values)
    {
        if (lengths[bucket] != values.shape[0])
            throw new ArgumentException($"bucket {bucket} has {lengths[bucket]} residual values, the gradient {values.shape[0]}", nameof(values));
        values.add_(residuals[bucket]);
        return Target(bucket);
    }

    /// <summary>The tensor form of <see cref="Compensate(int, int, Span{float})"/>: a view of the residual memory's slice.</summary>
    public Tensor Compensate(int bucket, int start, Tensor values)
    {
        CheckPiece(bucket, start, values.shape[0]);
        using (var current = residuals[bucket].narrow(0, start, values.shape[0])) values.add_(current);
        return Target(bucket).narrow(0, start, values.shape[0]);
    }

    private void CheckPiece(int bucket, long start, long length)
    {
        if (start < 0 || start + length > lengths[bucket])
            throw new ArgumentException($"values {start}..{start + length} are outside bucket {bucket}'s {lengths[bucket]} residual values");
    }

    /// <summary>Where this step's new residual of <paramref name="bucket"/> goes: the current memory, or staged beside it.</summary>
    private Tensor Target(int bucket)
    {
        if (staged is null) return residuals[bucket];
        written[bucket] = true;
        return staged[bucket];
    }

    /// <summary>A CPU tensor's values as a span over its memory.</summary>
    private static Span<float> HostValues(Tensor tensor) => MemoryMarshal.Cast<byte, float>(tensor.bytes);

    /// <summary>Staged: the residuals written since the last commit become current (a bucket that was not compensated
    /// keeps its residual, as it does unstaged). Unstaged there is nothing to do.</summary>
    public void Commit()
    {
        if (staged is null) return;
        for (int b = 0; b < residuals.Length; b++)
        {
            if (!written[b]) continue;
            (residuals[b], staged[b]) = (staged[b], residuals[b]);
            written[b] = false;
        }
    }

    /// <summary>Staged: forgets the residuals written since the last commit (a skipped step), keeping the current ones.</summary>
    public void Discard() => Array.Clear(written);

    /// <summary>Forgets every residual (a fresh start).</summary>
    public void Clear()
    {
        foreach (var residual in residuals) residual.zero_();
        Discard();
    }

    /// <summary>Size of the whole checkpoint state of <paramref name="ranks"/> ranks.</summary>
    public int StateBytes(int ranks) => checked(HeaderBytes + ranks * PartBytes);

    /// <summary>Writes the header of the state of <paramref name="ranks"/> ranks (this rank's bucket layout, which every rank shares).</summary>
    public void WriteHeader(Span<byte> state, int ranks)
    {
        BinaryPrimitives.WriteInt32LittleEndian(state, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(state[4..], ranks);
        BinaryPrimitives.WriteInt32LittleEndian(state[8..], residuals.Length);
        for (int b = 0; b < residuals.Length; b++)
            BinaryPrimitives.WriteInt32LittleEndian(state[(12 + 4 * b)..], lengths[b]);
    }

    /// <summary>Where rank <paramref name="rank"/>'s residuals sit in a state.</summary>
    public Span<byte> PartOf(Span<byte> state, int rank) => state.Slice(HeaderBytes + rank * PartBytes, PartBytes);

    /// <summary>Writes this rank's residuals (<see cref="PartBytes"/> bytes).</summary>
    public void WritePart(Span<byte> part)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("the checkpoint stores residuals as little-endian fp32");
        int at = 0;
        foreach (var residual in residuals)
        {
            using var host = residual.cpu();
            host.bytes.CopyTo(part[at..]);
            at += (int)host.shape[0] * sizeof(float);
        }
    }

    /// <summary>
    /// Loads rank <paramref name="rank"/>'s residuals from a state written by a job of <paramref name="ranks"/>
    /// ranks with this bucket layout. Otherwise (no state, another worker count after a rescale, other buckets
    /// after a spec change) the residuals restart at zero and the reason is returned; null when restored.
    /// </summary>
    public string? Restore(ReadOnlySpan<byte> state, int rank, int ranks)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("the checkpoint stores residuals as little-endian fp32");
        Clear();
        if (state.IsEmpty) return "the checkpoint holds no error-feedback residuals (written without error_feedback)";
        if (state.Length < 12 || BinaryPrimitives.ReadInt32LittleEndian(state) != Magic)
            return "the checkpoint's error-feedback state is not in a known format";
        int savedRanks = BinaryPrimitives.ReadInt32LittleEndian(state[4..]);
        if (savedRanks != ranks)
            return $"the checkpoint's error-feedback residuals are for {savedRanks} workers, this job has {ranks}";
        int buckets = BinaryPrimitives.ReadInt32LittleEndian(state[8..]);
        bool sameLayout = buckets == residuals.Length && state.Length == StateBytes(ranks);
        for (int b = 0; sameLayout && b < buckets; b++)
            sameLayout = BinaryPrimitives.ReadInt32LittleEndian(state[(12 + 4 * b)..]) == lengths[b];
        if (!sameLayout)
            return "the checkpoint's error-feedback residuals have another bucket layout (bucket_mb or min_compress_elements changed)";

        var part = state.Slice(HeaderBytes + rank * PartBytes, PartBytes);
        int at = 0;
        foreach (var residual in residuals)
        {
            int bytes = (int)residual.shape[0] * sizeof(float);
            using var host = empty(residual.shape[0], dtype: ScalarType.Float32);
            part.Slice(at, bytes).CopyTo(host.bytes);
            residual.copy_(host);
            at += bytes;
        }
        return null;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var residual in residuals) residual.Dispose();
        foreach (var residual in staged ?? []) residual.Dispose();
    }
}
