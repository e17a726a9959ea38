using Orchestrator.Spec;

namespace Orchestrator.Trainer.Data;

/// <summary>
/// Lays out the optimizer steps of each epoch. Without mixed sizes every step takes the next global
/// batch at the dataset's size. With Mix &amp; Match (ALGORITHMS.md section 4) the epoch's samples are
/// split exactly by the size fractions, each size gets its own batch ("B+": batch scales with
/// (base/size)^2) or copy count ("D+": batch-augmentation copies scale instead), and the steps of the
/// sizes are interleaved in an order that is a pure function of (seed, epoch). Since the permutation is
/// random, giving each step the next samples of it is the same as drawing the per-size subsets at random.
/// </summary>
/// <remarks>
/// A model normalized with batch statistics cannot train on a worker share of one row: BatchNorm's
/// unbiased variance of one value is 0/0, the running variance becomes NaN and every later evaluation
/// with it (PyTorch refuses such a batch outright). So when the planner is given a
/// <c>minimumRowsPerWorker</c>, a size's trailing step whose smallest worker share would have fewer rows
/// is folded into that size's previous step (which then has up to 2 x workers - 1 extra samples)
/// instead of being dropped as PyTorch's <c>drop_last</c> would: every sample is still trained once
/// per epoch. The fold is a pure function of (dataset size, batch, workers), so every rank plans the
/// same steps; without it (a model without batch statistics, or a remainder big enough) the plan is
/// exactly what it was before the rule existed.
/// </remarks>
public sealed class EpochPlanner
{
    private readonly int datasetSize;
    private readonly int globalBatch;
    private readonly long seed;
    private readonly int nativeSize;
    private readonly int duplicates;
    private readonly int batchMultiple;
    private readonly int workers;
    private readonly int minimumRowsPerWorker;
    private readonly MixedSizeSpec mixed;
    private readonly (int Size, int Batch, int Duplicates, int Samples)[] sizes;
    private int cachedEpoch = -1;
    private PlannedStep[] cached = [];

    /// <param name="nativeSize">The dataset's image side: the base size of the (base/size)^2 rule.</param>
    /// <param name="duplicates">Batch-augmentation copies M at the base size.</param>
    /// <param name="batchMultiple">B+ batches are rounded to a multiple of this (ghost batch x workers), so
    /// ghost batches stay whole.</param>
    /// <param name="workers">Ranks that share every step (each takes a contiguous slice, see <see cref="ShardedSampler.Shard"/>).</param>
    /// <param name="minimumRowsPerWorker">Rows (samples x copies) every worker's share of every step must have: 2 for a
    /// model with batch statistics, 0 (the default) for no constraint, where a worker's share of the epoch's last step
    /// may even be empty.</param>
    /// <exception cref="UserFacingException">A size's whole epoch is too small for one step of the minimum.</exception>
    public EpochPlanner(int datasetSize, int globalBatch, long seed, MixedSizeSpec mixed, int nativeSize, int duplicates = 1, int batchMultiple = 1,
        int workers = 1, int minimumRowsPerWorker = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(datasetSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(globalBatch);
        this.datasetSize = datasetSize;
        this.globalBatch = globalBatch;
        this.seed = seed;
        this.mixed = mixed;
        this.nativeSize = nativeSize;
        this.duplicates = Math.Max(1, duplicates);
        this.batchMultiple = Math.Max(1, batchMultiple);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(workers);
        ArgumentOutOfRangeException.ThrowIfNegative(minimumRowsPerWorker);
        this.workers = workers;
        this.minimumRowsPerWorker = minimumRowsPerWorker;
        sizes = mixed.Enabled ? SizeTable() : [(nativeSize, globalBatch, this.duplicates, datasetSize)];
        foreach (var (size, _, copies, samples) in sizes)
            if (samples > 0 && samples < MinimumStep(copies))
                throw new UserFacingException(mixed.Enabled
                    ? $"training.mixed_size: size {size} gets {samples} of the {datasetSize} training samples per epoch, too few for one step: " +
                      $"batch statistics need at least {minimumRowsPerWorker} rows on each of {workers} worker(s); raise its probability or use more samples"
                    : $"data.train_subset: {datasetSize} training sample(s) are too few for one step: batch statistics need at least " +
                      $"{minimumRowsPerWorker} rows on each of {workers} worker(s); use more samples, fewer workers or model.norm: none");
        StepsPerEpoch = sizes.Sum(s => StepsOf(s.Samples, s.Batch, s.Duplicates));
    }

    /// <summary>Optimizer steps in every epoch.</summary>
    public int StepsPerEpoch { get; }

    /// <summary>Per size: its side, global batch, copies and samples per epoch.</summary>
    public IReadOnlyList<(int Size, int Batch, int Duplicates, int Samples)> Sizes => sizes;

    /// <summary>The steps of <paramref name="epoch"/> in order (cached; do not modify).</summary>
    public IReadOnlyList<PlannedStep> Plan(int epoch)
    {
        if (epoch == cachedEpoch) return cached;
        var order = new List<int>(StepsPerEpoch);
        var stepsLeft = sizes.Select(s => StepsOf(s.Samples, s.Batch, s.Duplicates)).ToArray();
        for (int s = 0; s < sizes.Length; s++)
            order.AddRange(Enumerable.Repeat(s, stepsLeft[s]));
        if (sizes.Length > 1)
        {
            var rng = new SplitMix64(SplitMix64.Mix((ulong)seed ^ 0xA11C_E5_12E5UL) ^ SplitMix64.Mix((ulong)epoch + 1));
            for (int i = order.Count - 1; i > 0; i--)
            {
                int j = (int)rng.NextBelow((ulong)i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }
        }
        var left = sizes.Select(s => s.Samples).ToArray();
        var steps = new PlannedStep[order.Count];
        long offset = 0;
        for (int i = 0; i < order.Count; i++)
        {
            var (size, batch, copies, _) = sizes[order[i]];
            // A size's last step takes what is left: a short remainder, or a full batch plus a folded one.
            int count = --stepsLeft[order[i]] == 0 ? left[order[i]] : batch;
            left[order[i]] -= count;
            steps[i] = new PlannedStep(offset, count, size, copies);
            offset += count;
        }
        cached = steps;
        cachedEpoch = epoch;
        return steps;
    }

    /// <summary>
    /// The step that starts at <paramref name="offset"/> of <paramref name="epoch"/>. Without mixed sizes any offset
    /// inside the epoch is a step start: a run resumed with another global batch (a rescale that keeps the
    /// per-worker batch) continues from its checkpoint's offset with the new batch, so no sample is skipped or repeated.
    /// </summary>
    public PlannedStep StepAt(int epoch, long offset) => Locate(epoch, offset).Step;

    /// <summary>
    /// The index within its epoch of the step at <paramref name="offset"/>: for a run that never changed its batch, the
    /// same as the step count since the epoch began; after a change, the step this batch would have reached (so the
    /// regime continues at the same point of the epoch).
    /// </summary>
    public int IndexAt(int epoch, long offset) => Locate(epoch, offset).Index;

    private (PlannedStep Step, int Index) Locate(int epoch, long offset)
    {
        var plan = Plan(epoch);
        int lo = 0, hi = plan.Count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) / 2;
            if (plan[mid].Offset == offset) return (plan[mid], mid);
            if (plan[mid].Offset < offset) lo = mid + 1; else hi = mid - 1;
        }
        if (sizes.Length == 1 && offset > 0 && offset < datasetSize)
        {
            var (size, batch, copies, _) = sizes[0];
            long rest = datasetSize - offset;
            long count = Math.Min(batch, rest);
            // The same fold as the plan's: a too-short remainder joins this step. A rest that is itself shorter
            // than the minimum has no earlier step of this run to join (possible only after a rescale to more
            // workers stopped exactly there) and trains as it is.
            if (rest - count < MinimumStep(copies)) count = rest;
            return (new PlannedStep(offset, (int)count, size, copies), (int)((offset + batch - 1) / batch));
        }
        throw new ArgumentOutOfRangeException(nameof(offset), offset, $"no step of epoch {epoch} starts at sample offset {offset}");
    }

    /// <summary>The fewest samples a step of a size with <paramref name="copies"/> copies per sample may have:
    /// its smallest worker share, count / workers, then has at least the minimum rows.</summary>
    private int MinimumStep(int copies) => workers * ((minimumRowsPerWorker + copies - 1) / copies);

    /// <summary>Steps of a size per epoch: ceil(samples / batch), one fewer when the remainder is folded.</summary>
    private int StepsOf(int samples, int batch, int copies)
    {
        int full = samples / batch, remainder = samples % batch;
        return full + (remainder > 0 && (full == 0 || remainder >= MinimumStep(copies)) ? 1 : 0);
    }

    private (int, int, int, int)[] SizeTable()
    {
        var probabilities = mixed.Probabilities;
        var samples = ExactShares(probabilities, datasetSize);
        var table = new (int, int, int, int)[mixed.Sizes.Count];
        for (int i = 0; i < table.Length; i++)
        {
            int size = mixed.Sizes[i];
            double scale = Math.Pow((double)nativeSize / size, 2);
            int batch = globalBatch, copies = duplicates;
            switch (mixed.Mode)
            {
                case MixedSizeMode.BPlus:
                    batch = Math.Max(batchMultiple, (int)Math.Round(scale * globalBatch / batchMultiple) * batchMultiple);
                    break;
                case MixedSizeMode.DPlus:
                    copies = Math.Max(1, (int)Math.Round(scale * duplicates));
                    break;
                case MixedSizeMode.Off:
                    throw new InvalidOperationException("a size table exists only with mixed sizes on");
            }
            table[i] = (size, batch, copies, samples[i]);
        }
        return table;
    }

    /// <summary>Integer shares of <paramref name="total"/> proportional to <paramref name="fractions"/>
    /// that sum to it exactly (largest remainders get the leftover samples).</summary>
    public static int[] ExactShares(IReadOnlyList<double> fractions, int total)
    {
        var raw = fractions.Select(p => p * total).ToArray();
        var shares = raw.Select(r => (int)Math.Floor(r)).ToArray();
        int leftover = total - shares.Sum();
        foreach (int i in Enumerable.Range(0, raw.Length).OrderByDescending(i => raw[i] - shares[i]).ThenBy(i => i).Take(leftover))
            shares[i]++;
        return shares;
    }
}
