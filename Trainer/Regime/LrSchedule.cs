using Orchestrator.Spec;

namespace Orchestrator.Trainer.Regimes;

/// <summary>
/// The learning-rate path of one regime phase, from its lr (lr0) at the phase's first step to lrT at
/// the next phase's first step (or the end of training), as a function of the fraction f in [0, 1]
/// of the phase that has passed (ALGORITHMS.md section 2).
/// </summary>
public static class LrSchedule
{
    /// <summary>
    /// lrT when the phase names no <c>end_lr</c>: 0 for linear and cosine (anneal to zero), lr0/100 for
    /// exp (an exponential never reaches 0; two decades is the usual decay); lr0 for constant.
    /// </summary>
    public static double DefaultEnd(ScheduleKind schedule, double lr0) => schedule switch
    {
        ScheduleKind.Linear or ScheduleKind.Cosine => 0.0,
        ScheduleKind.Exp => lr0 / 100.0,
        ScheduleKind.Constant => lr0,
    };

    /// <summary>
    /// lr at fraction <paramref name="f"/> (clamped to [0, 1]) of the phase:
    /// constant: lr0; linear: max(lr0 + f (lrT - lr0), 0); cosine: lrT + (lr0 - lrT)(1 + cos(pi f))/2;
    /// exp: lr0 (lrT/lr0)^f.
    /// </summary>
    /// <exception cref="ArgumentException">exp with a non-positive end point.</exception>
    public static double At(ScheduleKind schedule, double lr0, double lrT, double f)
    {
        f = Math.Clamp(f, 0.0, 1.0);
        return schedule switch
        {
            ScheduleKind.Constant => lr0,
            // The floor keeps a ramp that overshoots below zero (negative end_lr) from ascending the loss.
            ScheduleKind.Linear => Math.Max(lr0 + f * (lrT - lr0), 0.0),
            ScheduleKind.Cosine => lrT + (lr0 - lrT) * (1.0 + Math.Cos(Math.PI * f)) / 2.0,
            ScheduleKind.Exp => lr0 > 0 && lrT > 0
                ? lr0 * Math.Pow(lrT / lr0, f)
                : throw new ArgumentException($"exp schedule needs positive lr and end lr (got {lr0} and {lrT})"),
        };
    }
}
