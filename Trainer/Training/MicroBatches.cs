namespace Orchestrator.Trainer.Training;

/// <summary>One micro-batch of a worker's local batch: <see cref="Count"/> samples from sample <see cref="Start"/>.</summary>
public readonly record struct MicroBatch(int Start, int Count);

/// <summary>
/// How a worker's local batch is cut for gradient accumulation (<c>training.micro_batch</c>): consecutive runs of the
/// micro-batch size, in samples, so a sample's batch-augmentation copies (adjacent rows) stay in one pass and, with a
/// micro-batch that is a multiple of the ghost batch, every ghost batch lies inside one pass. Pure logic.
/// </summary>
public static class MicroBatches
{
    /// <summary>
    /// The micro-batches of a local batch of <paramref name="samples"/> samples: runs of <paramref name="microBatch"/>
    /// (0, or at least <paramref name="samples"/>: one pass). A last run shorter than the others stays on its own unless it
    /// would give fewer than <paramref name="minimumRows"/> rows (samples x <paramref name="copies"/>, e.g. 2 for batch
    /// statistics); then it joins the run before it.
    /// </summary>
    public static IReadOnlyList<MicroBatch> Split(int samples, int microBatch, int copies = 1, int minimumRows = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(samples);
        ArgumentOutOfRangeException.ThrowIfNegative(microBatch);
        ArgumentOutOfRangeException.ThrowIfLessThan(copies, 1);
        if (microBatch == 0 || microBatch >= samples)
            return [new MicroBatch(0, samples)];
        var runs = new List<MicroBatch>(samples / microBatch + 1);
        for (int start = 0; start < samples; start += microBatch)
            runs.Add(new MicroBatch(start, Math.Min(microBatch, samples - start)));
        var last = runs[^1];
        if ((long)last.Count * copies < minimumRows)
        {
            runs.RemoveAt(runs.Count - 1);
            runs[^1] = runs[^1] with { Count = runs[^1].Count + last.Count };
        }
        return runs;
    }
}
