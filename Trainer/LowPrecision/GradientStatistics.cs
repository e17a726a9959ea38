namespace Orchestrator.Trainer.LowPrecision;

/// <summary>
/// What the neural-gradient pruning of a step measured, over every pruned layer gradient: elements and non-zeros. Written
/// by backward on the training thread, read by the step loop after it.
/// </summary>
public sealed class GradientStatistics
{
    private long elements;
    private long nonZeros;

    /// <summary>Adds one pruned gradient's counts.</summary>
    public void Add(long count, long kept)
    {
        Interlocked.Add(ref elements, count);
        Interlocked.Add(ref nonZeros, kept);
    }

    /// <summary>The fraction of zeros among the pruned gradients since the last call (NaN when nothing was pruned), and resets.</summary>
    public double TakeSparsity()
    {
        long all = Interlocked.Exchange(ref elements, 0), kept = Interlocked.Exchange(ref nonZeros, 0);
        return all == 0 ? double.NaN : 1.0 - (double)kept / all;
    }
}
