namespace Orchestrator.Trainer.Regimes;

/// <summary>
/// Gradual warm-up (Goyal et al.): the first W updates use a growing fraction of the scheduled lr,
/// because a large scaled lr applied to freshly initialised weights diverges.
/// </summary>
public static class Warmup
{
    /// <summary>W = round(warmup_epochs * stepsPerEpoch) (halves away from zero); 0 = no warm-up.</summary>
    public static long Steps(double warmupEpochs, long stepsPerEpoch) =>
        warmupEpochs <= 0 ? 0 : (long)Math.Round(warmupEpochs * stepsPerEpoch, MidpointRounding.AwayFromZero);

    /// <summary>
    /// min(1, (t + 1) / W) for update t = 0, 1, ...: the first update already moves (1/W, not 0, so no
    /// step is wasted) and update W - 1 is the first at the full lr. 1 when W is 0.
    /// </summary>
    public static double Factor(long step, long warmupSteps) =>
        warmupSteps <= 0 ? 1.0 : Math.Min(1.0, (step + 1) / (double)warmupSteps);
}
