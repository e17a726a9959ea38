namespace Orchestrator.Trainer.Regimes;

/// <summary>
/// "Adapt the number of updates" (ALGORITHMS.md section 1): a batch k times larger makes k times fewer
/// steps per epoch, so training runs k times more epochs and every phase starts k times later, and the
/// large batch makes as many updates as the small one did. Warm-up is deliberately not stretched: it
/// guards the first updates against the large scaled lr, which does not need more epochs to settle.
/// </summary>
public static class UpdateAdaptation
{
    /// <summary>
    /// k = ceil(B / base) when <paramref name="adaptUpdates"/>, else 1. Rounding up (not down) so a
    /// batch that is not a multiple of the base never makes fewer updates than the base run.
    /// </summary>
    /// <param name="adaptUpdates">training.regime.adapt_updates.</param>
    /// <param name="globalBatch">B: samples per optimizer step over all workers.</param>
    /// <param name="baseBatch">The batch size the regime's epochs were written for.</param>
    /// <exception cref="Orchestrator.UserFacingException">A non-positive batch while adapting.</exception>
    public static int Factor(bool adaptUpdates, int globalBatch, int baseBatch)
    {
        if (!adaptUpdates) return 1;
        LrScaling.RequirePositive(globalBatch, baseBatch, "training.regime.adapt_updates");
        return (int)(((long)globalBatch + baseBatch - 1) / baseBatch);
    }
}
