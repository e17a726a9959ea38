namespace Orchestrator.Trainer.Data;

/// <summary>
/// Decides which dataset samples each rank trains on. Every epoch is a fresh permutation of [0, N) that is
/// a pure function of (seed, epoch), so all ranks compute the same one without communicating. Progress is
/// a global sample offset into that permutation (counted over all ranks, not per rank): a global batch is
/// the next <see cref="GlobalBatch"/> entries from the offset, and rank r of W takes a contiguous slice of
/// it. Because the position is global, a job resumed from a checkpoint, even with a different world size,
/// continues exactly where it stopped, seeing every sample of the epoch once.
/// </summary>
/// <remarks>
/// Not thread-safe: it caches the current epoch's permutation. The trainer takes the step boundaries from
/// <see cref="EpochPlanner"/> and passes each step's count to <see cref="LocalBatch(int, long, int)"/>; for a model
/// with batch statistics the planner folds a trailing step too small to give every rank two rows into the previous
/// step, so the exactly-once guarantee holds there too: no sample is dropped.
/// </remarks>
public sealed class ShardedSampler
{
    private int _cachedEpoch = -1;
    private int[] _permutation = [];

    /// <param name="datasetSize">Samples in the (training) dataset, N.</param>
    /// <param name="globalBatch">Samples per optimizer step over all ranks, B.</param>
    /// <param name="seed">The job's seed; with the epoch it fixes the permutation.</param>
    /// <param name="rank">This worker's rank, 0 ≤ rank &lt; worldSize.</param>
    /// <param name="worldSize">Number of workers sharing each global batch.</param>
    public ShardedSampler(int datasetSize, int globalBatch, long seed, int rank = 0, int worldSize = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(datasetSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(globalBatch);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(worldSize);
        if (rank < 0 || rank >= worldSize)
            throw new ArgumentOutOfRangeException(nameof(rank), rank, $"rank must be in [0, {worldSize})");
        DatasetSize = datasetSize;
        GlobalBatch = globalBatch;
        Seed = seed;
        Rank = rank;
        WorldSize = worldSize;
    }

    /// <summary>N, the number of samples per epoch.</summary>
    public int DatasetSize { get; }

    /// <summary>B, the samples per global batch (the last batch of an epoch may be smaller).</summary>
    public int GlobalBatch { get; }

    /// <summary>The seed the permutations derive from.</summary>
    public long Seed { get; }

    /// <summary>This worker's rank.</summary>
    public int Rank { get; }

    /// <summary>The number of workers.</summary>
    public int WorldSize { get; }

    /// <summary>Optimizer steps per epoch, ceil(N / B).</summary>
    public int StepsPerEpoch => (int)((DatasetSize + (long)GlobalBatch - 1) / GlobalBatch);

    /// <summary>Size of the global batch starting at <paramref name="globalOffset"/>: B, or what is left of the epoch.</summary>
    public int GlobalBatchSizeAt(long globalOffset)
    {
        CheckOffset(globalOffset);
        return (int)Math.Min(GlobalBatch, DatasetSize - globalOffset);
    }

    /// <summary>
    /// This rank's dataset indices for the global batch at (<paramref name="epoch"/>, <paramref name="globalOffset"/>).
    /// May be empty when the epoch's last batch has fewer samples than there are ranks.
    /// </summary>
    public long[] LocalBatch(int epoch, long globalOffset) => LocalBatch(epoch, globalOffset, GlobalBatchSizeAt(globalOffset));

    /// <summary>
    /// This rank's slice of a global batch of <paramref name="count"/> samples at (<paramref name="epoch"/>,
    /// <paramref name="globalOffset"/>): for plans whose batches vary in size (mixed image sizes).
    /// </summary>
    public long[] LocalBatch(int epoch, long globalOffset, int count)
    {
        CheckOffset(globalOffset);
        if (count < 0 || globalOffset + count > DatasetSize)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"batch runs past the epoch's {DatasetSize} samples");
        var (start, length) = Shard(count, Rank, WorldSize);
        var permutation = Permutation(epoch);
        var indices = new long[length];
        for (int i = 0; i < length; i++)
            indices[i] = permutation[(int)globalOffset + start + i];
        return indices;
    }

    /// <summary>
    /// The position after the global batch at (<paramref name="epoch"/>, <paramref name="globalOffset"/>):
    /// the same epoch at a later offset, or offset 0 of the next epoch once this one is used up.
    /// </summary>
    public (int Epoch, long Offset) Advance(int epoch, long globalOffset)
    {
        long next = globalOffset + GlobalBatchSizeAt(globalOffset);
        return next >= DatasetSize ? (epoch + 1, 0) : (epoch, next);
    }

    /// <summary>
    /// The order samples are visited in during <paramref name="epoch"/> (cached; do not modify). Fisher-Yates
    /// driven by <see cref="SplitMix64"/> so it is identical in every process and on every platform.
    /// </summary>
    public ReadOnlySpan<int> Permutation(int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        if (epoch == _cachedEpoch) return _permutation;

        var permutation = new int[DatasetSize];
        for (int i = 0; i < permutation.Length; i++) permutation[i] = i;
        // Mixing the epoch before combining keeps (seed, epoch) and (seed + 1, epoch - 1) unrelated.
        var rng = new SplitMix64(SplitMix64.Mix((ulong)Seed) ^ SplitMix64.Mix(0x5EED_0000_0000_0000UL + (ulong)epoch));
        for (int i = permutation.Length - 1; i > 0; i--)
        {
            int j = (int)rng.NextBelow((ulong)i + 1);
            (permutation[i], permutation[j]) = (permutation[j], permutation[i]);
        }
        _permutation = permutation;
        _cachedEpoch = epoch;
        return _permutation;
    }

    /// <summary>
    /// The contiguous slice of a <paramref name="count"/>-sample global batch that <paramref name="rank"/> of
    /// <paramref name="worldSize"/> takes: as even as possible, the first <c>count % worldSize</c> ranks get one extra.
    /// </summary>
    public static (int Start, int Length) Shard(int count, int rank, int worldSize)
    {
        int size = count / worldSize, extra = count % worldSize;
        return (rank * size + Math.Min(rank, extra), size + (rank < extra ? 1 : 0));
    }

    private void CheckOffset(long globalOffset)
    {
        if (globalOffset < 0 || globalOffset >= DatasetSize)
            throw new ArgumentOutOfRangeException(nameof(globalOffset), globalOffset, $"offset must be in [0, {DatasetSize})");
    }
}
