using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// What the training loop knows of other workers: their count, its own rank, and one call per step
/// that turns local gradients into the averaged gradients every worker applies. The loop never
/// talks to MPI; a single process uses <see cref="SingleProcessSynchronizer"/>.
/// </summary>
public interface IGradientSynchronizer : IDisposable
{
    int Rank { get; }
    int WorldSize { get; }

    /// <summary>The allreduce algorithm that averages the gradients (<c>ring</c>, <c>allgather</c>, <c>mpi</c>),
    /// as run, not as asked; <c>none</c> for a single process.</summary>
    string Algorithm { get; }

    /// <summary>Makes every worker start from rank 0's parameters and buffers, and prepares the
    /// gradient buffers. Called once, after the model is on its device and before the optimizer exists.</summary>
    void Attach(nn.Module model);

    /// <summary>
    /// Announces that the next forward and backward are step <paramref name="step"/>'s last (its last micro-batch): with
    /// <c>compression.overlap</c>, buckets whose gradients that backward makes final start averaging before it ends. The
    /// caller must not change the gradients after this, and must call <see cref="Synchronize"/> for the same step next.
    /// Optional: without it every bucket starts in <see cref="Synchronize"/>, with the same result.
    /// </summary>
    void BeginOverlap(long step);

    /// <summary>
    /// Averages the gradients across workers, in place, for optimizer step <paramref name="step"/>.
    /// Returns false when the step must be skipped on every worker (a non-finite gradient somewhere).
    /// </summary>
    bool Synchronize(long step);

    /// <summary>
    /// Whether updates are deferred (<c>compression.overlap_forward</c>): the training loop then calls
    /// <see cref="SynchronizeDeferred"/> instead of <see cref="Synchronize"/> and applies each bucket's update when the next
    /// forward first needs it (<see cref="AwaitBucket"/>), then <see cref="CompleteDeferred"/>.
    /// </summary>
    bool DefersUpdates { get; }

    /// <summary>Per gradient bucket, the names (as <c>named_parameters</c> gives them) of the parameters whose gradients it holds.</summary>
    IReadOnlyList<IReadOnlyList<string>> BucketParameterNames { get; }

    /// <summary>
    /// Deferred updates: starts averaging what the backward has not started yet, sums <paramref name="controls"/> (loss,
    /// counts, requests) over all workers in place in the same traffic, and returns once that sum is known, while the
    /// buckets may still be in flight: true when every worker's gradients were finite (the step is applied). Until
    /// <see cref="CompleteDeferred"/> the caller makes no other call of this synchronizer but <see cref="AwaitBucket"/>
    /// and <see cref="BeginOverlap"/>.
    /// </summary>
    bool SynchronizeDeferred(long step, Span<double> controls);

    /// <summary>Waits until bucket <paramref name="bucket"/> of the deferred step is averaged; false when its average is
    /// not finite (a codec could not carry a value: every worker sees the same bits and skips the same bucket).</summary>
    bool AwaitBucket(int bucket);

    /// <summary>Waits for every bucket of the deferred step and settles it (error-feedback residuals kept or dropped);
    /// false when it was skipped in whole or in part. Nothing to do (true) when no step is deferred.</summary>
    bool CompleteDeferred();

    /// <summary>Sums small control values (loss, counts) over all workers, in place.</summary>
    void SumAcrossWorkers(Span<double> values);

    /// <summary>Averages the running statistics (float buffers named <c>running_*</c>, which each worker
    /// gathers from its own shard) so every worker evaluates and checkpoints the same model; fixed buffers
    /// are equal on every worker already and stay untouched.</summary>
    void SyncBuffers(nn.Module model);

    /// <summary>Fails loudly when the workers' parameters are no longer bit-identical.</summary>
    void VerifyIdentical(nn.Module model, long step);

    /// <summary>
    /// Per-worker state a bit-exact resume needs (the error-feedback residuals), collected on rank 0 for its
    /// checkpoint; empty on the other ranks and when there is none. Collective: every worker calls it.
    /// </summary>
    byte[] CollectState();

    /// <summary>
    /// Takes this worker's part of a checkpoint's <see cref="CollectState"/> bytes (every worker reads the same
    /// checkpoint). Returns null when restored or not needed, else why the state starts afresh (e.g. the job
    /// now has another worker count), for the user to see. Call after <see cref="Attach"/>.
    /// </summary>
    string? RestoreState(ReadOnlySpan<byte> state);

    /// <summary>Traffic and timing so far.</summary>
    SynchronizerStats Stats { get; }
}
