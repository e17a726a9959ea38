using System.Diagnostics;
using System.Security.Cryptography;
using System.Runtime.InteropServices;
using Orchestrator.Spec;
using Orchestrator.Trainer.Compression;
using Orchestrator.Trainer.Compression.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// Data-parallel gradient averaging over MPI: gradients live in flat buckets; each step every worker
/// agrees whether all gradients are finite (else all skip), then each bucket is averaged with the
/// configured algorithm and codec (fp32 during warm-up and for the small-tensor buckets). Every
/// worker decodes the same bytes in the same order, so parameters stay bit-identical, which
/// <see cref="VerifyIdentical"/> checks with a hash of every parameter.
/// </summary>
/// <remarks>
/// With <c>compression.overlap</c> (and more than one worker) the buckets are averaged on a communication thread
/// (<see cref="BucketWorker"/>), each as soon as the last micro-batch's backward made its gradients final
/// (<see cref="BackwardReadiness"/>), in one fixed order on every rank. Each bucket's average is the same bits as
/// without overlap (its allreduce depends on its values, index and step only). What changes is when the workers learn
/// that a gradient was not finite: after the buckets instead of before, in the same small allreduce; a skipped step then
/// keeps the error-feedback residuals as they were (they are staged until the step is applied), as without overlap.
/// <para>
/// With <c>compression.overlap_forward</c> the training loop defers the update (<see cref="SynchronizeDeferred"/>): the
/// control values travel right after every bucket's first piece, the other pieces follow in the next forward's order
/// (<see cref="PieceSchedule"/>), and the loop waits for each bucket only when the next forward needs it
/// (<see cref="AwaitBucket"/>); <see cref="CompleteDeferred"/> settles the residuals once all are in.
/// </para>
/// <para>
/// Codec powersgd is no byte codec: its compressed buckets go through <see cref="PowerSgdAllreduce"/> (two fp32 sums per
/// bucket, MPICH's MPI_Allreduce) on the same paths; its warm-start factors are staged and committed like the residuals.
/// </para>
/// </remarks>
public sealed class MpiGradientSynchronizer : IGradientSynchronizer
{
    private readonly ICommunicator communicator;
    private readonly CompressionSpec spec;
    private readonly long seed;
    private readonly IGradientCodec codec;
    private readonly IGradientCodec plain = new NoneCodec();
    private readonly CodecImplementation? forced;
    // The torch-op codecs for buckets averaged where they live (DeviceBucketValues); made in Attach when they are.
    private ITensorCodec? deviceCodec;
    private readonly ITensorCodec devicePlain = new TorchNoneCodec();
    private readonly IAllreduceAlgorithm algorithm;
    private readonly IAllreduceAlgorithm fp32;
    private readonly AllreduceStats traffic = new();
    private readonly bool overlap;
    private readonly bool overlapForward;
    private GradientBuckets? buckets;
    private PieceSchedule? pieces;
    private ErrorFeedback? feedback;
    private PowerSgdAllreduce? lowRank;
    private BackwardReadiness? readiness;
    private BucketWorker? worker;
    // The step whose buckets may be in flight (overlap), set by the training thread before any bucket is posted.
    private long? inFlight;
    // Written by the communication thread while a step is in flight, read by the training thread after the drain.
    private bool locallyFinite;
    private int startedEarly;
    // Per bucket, the ticket of its last piece posted this step (overlap_forward waits for it); the step whose updates wait to be
    // applied (SynchronizeDeferred returned, CompleteDeferred not yet called) and its verdict; a step armed meanwhile.
    private long[] lastPiece = [];
    private long? deferred;
    private bool deferredApplied;
    private long deferredBlocked; // Stopwatch ticks the training thread waited for the deferred step's traffic
    private long? armedAfterDeferred;

    /// <param name="implementation">Forces the codec implementation (tests); null lets
    /// <see cref="CodecImplementations.Select"/> choose by where the values are encoded.</param>
    public MpiGradientSynchronizer(ICommunicator communicator, CompressionSpec spec, long seed, CodecImplementation? implementation = null)
    {
        this.communicator = communicator;
        this.spec = spec;
        this.seed = seed;
        forced = implementation;
        // Host buckets go to the fused kernels on spans; buckets on a device (or any bucket when a test forces the torch
        // ops) are averaged where they live by the torch-op codecs (DeviceBucketValues, chosen in Attach), so only
        // encodings cross to the host. powersgd is no byte codec: its buckets go through PowerSgdAllreduce (made in
        // Attach, host-staged), the rest as fp32.
        codec = spec.Codec.Factorizes() ? plain : CodecImplementations.Create(spec, CodecImplementation.Fused);
        // The spec is validated: its algorithm carries its codec (mpi only with none; MpiAllreduce guards that itself).
        algorithm = AllreduceAlgorithms.Create(spec.Algorithm, communicator);
        // fp32 traffic next to a compressing codec (warm-up, small tensors) goes through MPICH's own allreduce:
        // nothing beats it uncompressed. With codec none the chosen algorithm carries everything, so
        // none + ring or allgather measures that algorithm against mpi, as the user asked.
        fp32 = spec.Codec.Compresses() ? AllreduceAlgorithms.Create(AllreduceKind.Mpi, communicator) : algorithm;
        // One worker has nothing to send: nothing to overlap.
        overlap = spec.Overlap && communicator.Size > 1;
        // The spec is validated: overlap_forward comes with overlap and without powersgd.
        overlapForward = overlap && spec.OverlapForward;
        if (overlap && !communicator.SerializedCallsFromAnyThread)
            throw new InvalidOperationException("compression.overlap calls MPI from a communication thread, which needs MPI_THREAD_SERIALIZED; this MPI library does not provide it (set compression.overlap: false)");
        // The communication thread waits while the backward computes on the same cores: it must not spin.
        if (overlap) communicator.YieldWhileWaiting();
    }

    public int Rank => communicator.Rank;
    public int WorldSize => communicator.Size;
    public string Algorithm => algorithm.Kind.SpecName();
    public SynchronizerStats Stats { get; } = new();

    /// <summary>Whether buckets are averaged on the communication thread while the backward runs.</summary>
    public bool Overlaps => overlap;

    /// <inheritdoc/>
    public bool DefersUpdates => overlapForward;

    /// <inheritdoc/>
    public IReadOnlyList<IReadOnlyList<string>> BucketParameterNames =>
        buckets?.Buckets.Select(b => b.ParameterNames).ToList() ?? throw new InvalidOperationException("Attach the model first");

    public void Attach(nn.Module model)
    {
        using (no_grad())
        {
            foreach (var (_, tensor) in model.state_dict())
                Broadcast(tensor);
        }
        buckets = GradientBuckets.Attach(model.named_parameters(), spec.BucketMb, spec.MinCompressElements);
        var device = buckets.Buckets.Count > 0 ? buckets.Buckets[0].Flat.device : CPU;
        if (CodecImplementations.Select(device.type, forced) == CodecImplementation.TorchOps && !spec.Codec.Factorizes())
            deviceCodec = TorchCodecRegistry.Create(spec);
        // Residual memory for the buckets that get compressed (once warm-up is over); none for the fp32 ones. It lives
        // with the buckets: on the device when they are averaged there.
        feedback = spec.ErrorFeedback && spec.Codec.Compresses()
            ? new ErrorFeedback(buckets.Buckets.Select(b => b.Compressed ? b.Elements : 0), stage: overlap,
                deviceCodec is null ? CPU : device)
            : null;
        lowRank = spec.Codec.Factorizes()
            ? new PowerSgdAllreduce(communicator, buckets.Buckets.Select(b => b.Compressed ? b.ParameterShapes : null), spec.Rank, seed)
            : null;
        if (overlap)
        {
            readiness = BackwardReadiness.Attach(model, buckets.Buckets.Select(b => b.ParameterNames).ToList(), StartEarly);
            worker = new BucketWorker($"gradient sync (rank {Rank})");
        }
        // bucket_mb caps every allreduce: a bucket made bigger by one big parameter goes in pieces (not with powersgd,
        // whose factors need the parameter's whole matrix).
        if (lowRank is null)
        {
            var position = model.named_parameters().Select((p, i) => (p.name, i)).ToDictionary(p => p.name, p => p.i, StringComparer.Ordinal);
            pieces = new PieceSchedule(buckets.Buckets.Select(b => b.Elements).ToList(), (long)(spec.BucketMb * 1024 * 1024 / sizeof(float)),
                buckets.Buckets.Select(b => b.ParameterNames.Count == 0 ? int.MaxValue : b.ParameterNames.Min(n => position[n])).ToList());
        }
        lastPiece = new long[buckets.Buckets.Count];
    }

    /// <inheritdoc/>
    public void BeginOverlap(long step)
    {
        if (readiness is null) return;
        // With overlap_forward the forward that follows completes the deferred step first (its updates are applied
        // module by module): this step's buckets are prepared once that is done, before its backward starts any.
        if (deferred is not null) armedAfterDeferred = step;
        else if (inFlight is not null) throw new InvalidOperationException($"step {inFlight}'s buckets are still in flight: Synchronize it before the next step");
        else Prepare(step);
        readiness.Arm();
    }

    public bool Synchronize(long step)
    {
        var attached = buckets ?? throw new InvalidOperationException("Attach the model before synchronizing");
        if (deferred is not null) throw new InvalidOperationException($"step {deferred}'s updates are deferred: complete them first");
        if (overlapForward)
        {
            // overlap_forward without a caller that defers (a test, a fault step): the same pieces, completed at once.
            bool agreed = SynchronizeDeferred(step, []);
            return CompleteDeferred() && agreed;
        }
        Stats.Steps++;
        return readiness is null ? SynchronizeAfterBackward(attached, step) : SynchronizeOverlapped(attached, step);
    }

    /// <inheritdoc/>
    public bool SynchronizeDeferred(long step, Span<double> controls)
    {
        var attached = buckets ?? throw new InvalidOperationException("Attach the model before synchronizing");
        if (!overlapForward || pieces is null) throw new InvalidOperationException("only compression.overlap_forward defers updates");
        if (deferred is not null) throw new InvalidOperationException($"step {deferred}'s updates are deferred: complete them first");
        Stats.Steps++;
        deferredBlocked = 0;
        if (inFlight is null) Prepare(step); // no armed backward this step (e.g. a test fault rewrote the gradients): all pieces go now
        else if (inFlight != step) throw new InvalidOperationException($"BeginOverlap was called for step {inFlight}, Synchronize for step {step}");
        foreach (int b in readiness!.Finish()) PostPiece(b, 0);

        // The control values travel right after every bucket's first piece: the workers' count of non-finite local
        // gradients (the comm thread checked each first piece before sending it; the rest are checked here, before they
        // are posted) and the caller's values, summed. The other pieces follow in the order the next forward needs them.
        bool restFinite = pieces.Rest.All(r => PieceFinite(attached, r.Bucket, r.Piece));
        var exchanged = new double[controls.Length + 1];
        controls.CopyTo(exchanged.AsSpan(1));
        long agreed = worker!.Post(() =>
        {
            exchanged[0] = locallyFinite && restFinite ? 0 : 1;
            communicator.Allreduce(exchanged.AsSpan(), ReduceOp.Sum);
        });
        foreach (var (b, piece) in pieces.Rest) PostPiece(b, piece);
        Blocked(() => worker.WaitFor(agreed));
        exchanged.AsSpan(1).CopyTo(controls);
        deferred = step;
        deferredApplied = exchanged[0] == 0;
        return deferredApplied;
    }

    /// <inheritdoc/>
    public bool AwaitBucket(int bucket)
    {
        if (deferred is null) throw new InvalidOperationException("no step's updates are deferred");
        Blocked(() => worker!.WaitFor(lastPiece[bucket]));
        return AllFinite(buckets!.Buckets[bucket]);
    }

    private void Blocked(Action wait)
    {
        long from = Stopwatch.GetTimestamp();
        wait();
        deferredBlocked += Stopwatch.GetTimestamp() - from;
    }

    /// <inheritdoc/>
    public bool CompleteDeferred()
    {
        if (deferred is null) return true;
        var attached = buckets!;
        long from = Stopwatch.GetTimestamp();
        double busy = worker!.Drain(long.MaxValue); // every job's time
        deferredBlocked += Stopwatch.GetTimestamp() - from;
        // Hidden: what the traffic took beyond what the training thread waited for it (in the backward and the next forward).
        double hidden = Math.Max(0, busy - (double)deferredBlocked / Stopwatch.Frequency);
        deferred = null;
        inFlight = null;
        AddTraffic();
        Stats.HiddenSeconds += hidden;
        if (startedEarly > 0) Stats.OverlappedSteps++;
        bool complete;
        if (!deferredApplied)
        {
            Stats.SkippedSteps++;
            feedback?.Discard(); // as if the buckets had never been averaged: the residuals stay as they were
            complete = false;
        }
        else complete = AppliedAfterAverage(attached);
        if (armedAfterDeferred is { } next)
        {
            armedAfterDeferred = null;
            Prepare(next);
        }
        return complete;
    }

    /// <summary>Without overlap: agree on finiteness first, then average the buckets in index order.</summary>
    private bool SynchronizeAfterBackward(GradientBuckets attached, long step)
    {
        Span<long> finite = [attached.AllFinite() ? 1 : 0];
        communicator.Allreduce(finite, ReduceOp.Min);
        if (finite[0] == 0)
        {
            Stats.SkippedSteps++;
            return false;
        }

        traffic.Reset();
        for (int b = 0; b < attached.Buckets.Count; b++)
            for (int piece = 0; piece < PieceCount(b); piece++)
                AverageBucket(attached, b, step, piece);
        AddTraffic();
        return AppliedAfterAverage(attached);
    }

    /// <summary>
    /// With overlap: the buckets not started during the backward go now, in the fixed order; once all are averaged the
    /// workers agree whether every local gradient was finite (each bucket was checked before it was encoded).
    /// </summary>
    private bool SynchronizeOverlapped(GradientBuckets attached, long step)
    {
        long waitFrom = Stopwatch.GetTimestamp();
        if (inFlight is null) Prepare(step); // no armed backward this step (e.g. a test fault rewrote the gradients): all buckets go now
        else if (inFlight != step) throw new InvalidOperationException($"BeginOverlap was called for step {inFlight}, Synchronize for step {step}");
        foreach (int b in readiness!.Finish())
            PostBucket(b);
        double hidden = worker!.Drain(waitFrom);
        inFlight = null;
        AddTraffic();
        Stats.HiddenSeconds += hidden;
        if (startedEarly > 0) Stats.OverlappedSteps++;

        Span<long> finite = [locallyFinite ? 1 : 0];
        communicator.Allreduce(finite, ReduceOp.Min);
        if (finite[0] == 0)
        {
            Stats.SkippedSteps++;
            feedback?.Discard(); // as if the buckets had never been averaged: the residuals stay as they were
            lowRank?.Discard(); // and PowerSGD's warm start too
            return false;
        }
        return AppliedAfterAverage(attached);
    }

    private void Prepare(long step)
    {
        inFlight = step;
        locallyFinite = true;
        startedEarly = 0;
        traffic.Reset();
    }

    /// <summary>Called on the backward's thread when bucket <paramref name="b"/> may start.</summary>
    private void StartEarly(int b)
    {
        startedEarly++;
        // overlap_forward sends a bucket's other pieces after the step's control values (SynchronizeDeferred).
        if (overlapForward) PostPiece(b, 0);
        else PostBucket(b);
    }

    /// <summary>Queues every piece of bucket <paramref name="b"/> of the step in flight.</summary>
    private void PostBucket(int b)
    {
        for (int piece = 0; piece < PieceCount(b); piece++) PostPiece(b, piece);
    }

    private int PieceCount(int b) => pieces?.PiecesOf(b).Count ?? 1;

    /// <summary>Queues piece <paramref name="piece"/> of bucket <paramref name="b"/> of the step in flight.</summary>
    private void PostPiece(int b, int piece)
    {
        var attached = buckets!;
        long step = inFlight!.Value;
        lastPiece[b] = worker!.Post(() => AverageChecked(attached, b, step, piece));
    }

    /// <summary>On the communication thread: notes whether the bucket's (piece's) local gradients are finite, then averages it.</summary>
    private void AverageChecked(GradientBuckets attached, int b, long step, int piece = 0)
    {
        if (!PieceFinite(attached, b, piece)) locallyFinite = false;
        AverageBucket(attached, b, step, piece);
    }

    private bool PieceFinite(GradientBuckets attached, int b, int piece)
    {
        var (start, length) = Piece(attached, b, piece);
        return AllFinite(attached.Buckets[b], start, length);
    }

    /// <summary>The values of piece <paramref name="piece"/> of bucket <paramref name="b"/>: the whole bucket without pieces.</summary>
    private (int Start, int Length) Piece(GradientBuckets attached, int b, int piece) =>
        pieces is null ? (0, attached.Buckets[b].Elements) : pieces.PiecesOf(b)[piece];

    private void AverageBucket(GradientBuckets attached, int b, long step, int piece = 0)
    {
        var bucket = attached.Buckets[b];
        bool compressing = step >= spec.WarmupSteps && spec.Codec.Compresses();
        if (compressing && bucket.Compressed && lowRank is not null)
        {
            WithHostSpan(bucket, values => AverageLowRank(values, b, step));
            Stats.UncompressedBytes += 4L * bucket.Elements;
            Stats.EncodedBytes += lowRank.EncodedBytes(b);
            return;
        }
        bool compress = compressing && bucket.Compressed;
        var (start, length) = Piece(attached, b, piece);
        // A piece after a bucket's first draws its own random numbers; the first (or only) one keeps the bucket's seed.
        ulong seed = BucketSeed(step, b) ^ ((ulong)piece << 40);
        if (deviceCodec is not null) AverageWhereItLives(bucket, b, start, length, compress, seed);
        else WithHostSpan(bucket, start, length, values => Average(values, b, start, compress, seed));
        Stats.UncompressedBytes += 4L * length;
        Stats.EncodedBytes += (compress ? codec : plain).EncodedBytes(length);
    }

    private void AddTraffic()
    {
        Stats.BytesSent += traffic.BytesSent;
        Stats.BytesReceived += traffic.BytesReceived;
        Stats.CommunicationSeconds += traffic.CommunicationSeconds;
        Stats.CompressionSeconds += traffic.CodecSeconds;
    }

    /// <summary>The check after the averages, and the residuals' fate.</summary>
    private bool AppliedAfterAverage(GradientBuckets attached)
    {
        // The codecs turn what they cannot carry (non-finite values, blocks beyond the float range) into NaN, and every rank
        // decodes the same bytes: every rank sees the same verdict here and skips the same step, with no further message.
        if (!attached.AllFinite())
        {
            Stats.SkippedSteps++;
            feedback?.Clear(); // this step's residuals were overwritten with NaN as well
            lowRank?.Reset(); // and so were PowerSGD's factors: back to the first draw
            return false;
        }
        feedback?.Commit();
        lowRank?.Commit();
        return true;
    }

    /// <summary>Whether every value of <paramref name="bucket"/> (of its values <paramref name="start"/> on, <paramref name="length"/>
    /// of them) is finite (the max magnitude is NaN or infinite otherwise).</summary>
    private static bool AllFinite(GradientBucket bucket, int start = 0, int length = -1)
    {
        if (length < 0) length = bucket.Elements - start;
        if (length == 0) return true;
        if (bucket.Flat.device_type != DeviceType.CPU)
        {
            using var values = bucket.Flat.narrow(0, start, length);
            using var finite = isfinite(values).all();
            return finite.item<bool>();
        }
        return float.IsFinite(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude<float>(bucket.Span.Slice(start, length)));
    }

    public void SumAcrossWorkers(Span<double> values) => communicator.Allreduce(values, ReduceOp.Sum);

    public void VerifyIdentical(nn.Module model, long step)
    {
        // Parameters only: running statistics are per-worker until SyncBuffers averages them.
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (_, tensor) in model.named_parameters())
        {
            using var host = tensor.cpu().contiguous();
            hash.AppendData(host.bytes);
        }
        Span<byte> mine = stackalloc byte[8];
        hash.GetCurrentHash().AsSpan(0, 8).CopyTo(mine);
        var all = new byte[8 * communicator.Size];
        communicator.Allgather(mine, all);
        for (int r = 0; r < communicator.Size; r++)
            if (!all.AsSpan(8 * r, 8).SequenceEqual(mine))
                throw new InvalidOperationException(
                    $"parameters diverged across workers at step {step}: rank {r}'s hash {Convert.ToHexString(all, 8 * r, 8)} differs from rank {Rank}'s {Convert.ToHexString(mine)}");
    }

    public void SyncBuffers(nn.Module model)
    {
        using var noGrad = no_grad();
        foreach (var (name, buffer) in model.named_buffers())
        {
            if (buffer.dtype != ScalarType.Float32) continue; // counters are equal on every worker already
            // Only running statistics (named running_*, as BatchNorm's) differ per worker; a fixed buffer such as the
            // Hadamard classifier's W is equal on every worker since Attach, and averaging it would only cost traffic.
            if (!name[(name.LastIndexOf('.') + 1)..].StartsWith("running_", StringComparison.Ordinal)) continue;
            using var host = buffer.cpu().contiguous();
            var values = MemoryMarshal.Cast<byte, float>(host.bytes);
            communicator.AllreduceSum(values);
            float scale = 1f / communicator.Size;
            for (int i = 0; i < values.Length; i++) values[i] *= scale;
            buffer.copy_(host);
        }
    }

    /// <summary>PowerSGD for a compressed bucket: error-compensated (when on), then its two factor sums.</summary>
    private void AverageLowRank(Span<float> values, int bucketIndex, long step)
    {
        // As for the codecs: g' = g + e goes in, and e is overwritten with g' minus the applied average (staged with overlap).
        var residual = feedback is null ? default : feedback.Compensate(bucketIndex, values);
        lowRank!.Allreduce(bucketIndex, values, residual, step, traffic);
    }

    /// <summary>A host bucket through the fused codecs. Error feedback: g' = g + e is sent; the algorithm overwrites e with
    /// g' minus what it actually sent of this rank's contribution (the same encoding, not a second draw), ready for the next step.</summary>
    private void Average(Span<float> values, int bucketIndex, int start, bool compress, ulong seed)
    {
        var residual = compress && feedback is not null ? feedback.Compensate(bucketIndex, start, values) : default;
        var host = new HostBucketValues(values, compress ? codec : plain, residual);
        (compress ? algorithm : fp32).Allreduce(ref host, seed, traffic);
    }

    /// <summary>The same for a bucket (or a piece of it) averaged where it lives, by the torch-op codecs (only encodings
    /// cross to the host).</summary>
    private void AverageWhereItLives(GradientBucket bucket, int bucketIndex, int start, int length, bool compress, ulong seed)
    {
        using var piece = bucket.Flat.narrow(0, start, length); // a view: the average lands in the bucket
        using var residual = compress && feedback is not null ? feedback.Compensate(bucketIndex, start, piece) : null;
        var values = new DeviceBucketValues(piece, compress ? deviceCodec! : devicePlain, residual);
        (compress ? algorithm : fp32).Allreduce(ref values, seed, traffic);
        Stats.HostTransferBytes += values.HostBytes;
    }

    private ulong BucketSeed(long step, int bucketIndex) => (ulong)seed * 0x9E3779B97F4A7C15UL ^ ((ulong)step << 20) ^ (ulong)bucketIndex;

    /// <inheritdoc/>
    /// <remarks>The error-feedback residuals of every rank, sent to rank 0 point to point (a checkpoint is rare;
    /// an allgather would make every rank hold all of them). With powersgd the state is a <see cref="PowerSgdState"/>: those
    /// residuals (if any) and the warm-start factors, which are the same on every rank (rank 0's are written).</remarks>
    public byte[] CollectState()
    {
        var residuals = CollectResiduals();
        if (lowRank is null || Rank != 0) return residuals;
        return PowerSgdState.Combine(residuals, lowRank);
    }

    private byte[] CollectResiduals()
    {
        if (feedback is null) return [];
        const int tag = 0x4546; // "EF"
        if (Rank != 0)
        {
            var mine = new byte[feedback.PartBytes];
            feedback.WritePart(mine);
            communicator.Send(mine, 0, tag);
            return [];
        }
        var state = new byte[feedback.StateBytes(WorldSize)];
        feedback.WriteHeader(state, WorldSize);
        feedback.WritePart(feedback.PartOf(state, 0));
        for (int r = 1; r < WorldSize; r++)
        {
            int got = communicator.Receive(feedback.PartOf(state, r), r, tag);
            if (got != feedback.PartBytes)
                throw new InvalidOperationException($"rank {r} sent {got} bytes of residuals, expected {feedback.PartBytes} (bucket layouts differ across ranks?)");
        }
        return state;
    }

    /// <inheritdoc/>
    public string? RestoreState(ReadOnlySpan<byte> state)
    {
        var residuals = state;
        string? factorsReason = null;
        if (lowRank is not null)
        {
            PowerSgdState.Split(state, out residuals, out var factors);
            if (lowRank.Restore(factors) is { } reason)
                factorsReason = $"{reason}: PowerSGD restarts from its first random factors, so this resume does not continue bit-exactly";
        }
        string? residualsReason = feedback?.Restore(residuals, Rank, WorldSize) is { } why
            ? $"{why}: error feedback restarts from zero residuals, so this resume does not continue bit-exactly"
            : null;
        return (residualsReason, factorsReason) switch
        {
            (null, null) => null,
            (string r, null) => r,
            (null, string f) => f,
            (string r, string f) => $"{r}; {f}",
        };
    }

    /// <summary>Runs <paramref name="body"/> on the bucket's values in host memory (GPU buckets are staged through the host).</summary>
    private static void WithHostSpan(GradientBucket bucket, SpanAction body) => WithHostSpan(bucket, 0, bucket.Elements, body);

    /// <summary>The same for <paramref name="length"/> of the bucket's values from <paramref name="start"/> on.</summary>
    private static void WithHostSpan(GradientBucket bucket, int start, int length, SpanAction body)
    {
        if (bucket.Flat.device_type == DeviceType.CPU)
        {
            body(bucket.Span.Slice(start, length));
            return;
        }
        using var piece = bucket.Flat.narrow(0, start, length);
        using var host = piece.cpu();
        body(MemoryMarshal.Cast<byte, float>(host.bytes));
        piece.copy_(host);
    }

    private delegate void SpanAction(Span<float> values);

    private void Broadcast(Tensor tensor)
    {
        if (tensor.device_type == DeviceType.CPU && tensor.is_contiguous())
        {
            communicator.Broadcast(tensor.bytes, root: 0);
            return;
        }
        using var host = tensor.cpu().contiguous();
        communicator.Broadcast(host.bytes, root: 0);
        tensor.copy_(host);
    }

    public void Dispose()
    {
        worker?.Dispose();
        readiness?.Dispose();
        feedback?.Dispose();
        buckets?.Dispose();
    }
}
