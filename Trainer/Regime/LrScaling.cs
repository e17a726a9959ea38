using Orchestrator.Spec;

namespace Orchestrator.Trainer.Regimes;

/// <summary>
/// The learning-rate scaling rule of a regime (ALGORITHMS.md section 1): the phases' learning rates
/// were tuned for <c>base_batch</c>; at global batch B every one of them (each phase's <c>lr</c> and
/// <c>end_lr</c>, and the optimizer's own <c>lr</c>) is multiplied by the same factor.
/// </summary>
public static class LrScaling
{
    /// <summary>
    /// 1 for <c>none</c>; sqrt(B / base) for <c>sqrt</c> (Hoffer et al.: keeps the gradient noise
    /// scale of the small batch); B / base for <c>linear</c> (Goyal et al., usually with warm-up).
    /// </summary>
    /// <param name="rule">The rule.</param>
    /// <param name="globalBatch">B: samples per optimizer step over all workers.</param>
    /// <param name="baseBatch">The batch size the learning rates were tuned for; unused by <c>none</c>.</param>
    /// <exception cref="UserFacingException">A non-positive batch where the rule needs it.</exception>
    public static double Factor(LrScalingKind rule, int globalBatch, int baseBatch) => rule switch
    {
        LrScalingKind.None => 1.0,
        LrScalingKind.Sqrt => Math.Sqrt(Ratio(globalBatch, baseBatch)),
        LrScalingKind.Linear => Ratio(globalBatch, baseBatch),
    };

    private static double Ratio(int globalBatch, int baseBatch)
    {
        RequirePositive(globalBatch, baseBatch, "training.regime.lr_scaling");
        return (double)globalBatch / baseBatch;
    }

    internal static void RequirePositive(int globalBatch, int baseBatch, string what)
    {
        if (baseBatch <= 0)
            throw new UserFacingException($"{what} needs training.regime.base_batch > 0 (got {baseBatch})");
        if (globalBatch <= 0)
            throw new UserFacingException($"{what} needs training.global_batch > 0 (got {globalBatch})");
    }
}
