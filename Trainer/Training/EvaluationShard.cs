namespace Orchestrator.Trainer.Training;

/// <summary>
/// Which contiguous rows of an evaluation split a rank evaluates: the split cut into <c>worldSize</c> parts whose
/// sizes differ by at most one, in rank order, covering every row exactly once.
/// </summary>
public static class EvaluationShard
{
    /// <returns>The first row and the row count of <paramref name="rank"/>'s part (the count may be 0 when there are
    /// more ranks than rows).</returns>
    public static (int Start, int Count) Of(int rows, int rank, int worldSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfLessThan(worldSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, worldSize);
        int start = (int)((long)rows * rank / worldSize);
        int end = (int)((long)rows * (rank + 1) / worldSize);
        return (start, end - start);
    }
}
