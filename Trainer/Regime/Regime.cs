using Orchestrator.Spec;

namespace Orchestrator.Trainer.Regimes;

/// <summary>
/// A training job's optimizer settings as a function of the update index (ALGORITHMS.md sections 1
/// and 2), resolved once from <see cref="TrainingSpec"/> and the steps per epoch; pure arithmetic, so
/// every worker (and a resumed run) computes the same settings for the same step.
/// </summary>
/// <remarks>
/// <para>Without <see cref="TrainingSpec.Regime"/>: the optimizer spec's settings at every step, no
/// scaling (factor 1), no adaptation (k = 1), no warm-up, no clipping.</para>
/// <para>With a regime:</para>
/// <list type="bullet">
/// <item>Scaling: the factor of <see cref="LrScaling"/> multiplies every lr of the job: the optimizer
/// spec's lr (used until a phase sets one), each phase's <c>lr</c> and <c>end_lr</c>.</item>
/// <item>Adaptation: with k from <see cref="UpdateAdaptation"/>, <see cref="TotalEpochs"/> =
/// epochs * k and each phase starts at epoch * k. Warm-up epochs are not multiplied.</item>
/// <item>Phase starts are steps: phase i starts at S_i = round(epoch_i * k * stepsPerEpoch) (halves
/// away from zero) and applies to every step t &gt;= S_i. This is "start epoch &lt;= t / stepsPerEpoch"
/// whenever the start falls on a whole step, and keeps activation and the schedule's fraction on
/// the same integer grid when it does not.</item>
/// <item>Settings at step t start from the optimizer spec; every phase with S_i &lt;= t, in order,
/// overrides the fields it sets. A phase without <c>lr</c> keeps the latest declared (scaled) lr of
/// the phases before it (or the optimizer spec's), not the value an earlier schedule had reached:
/// e.g. a phase that only changes momentum after a cosine phase restarts at that cosine phase's lr0.</item>
/// <item>Schedule: the active phase (the last started) with lr0 = its resolved lr runs from its start
/// S0 to the next phase's start S1 (or <see cref="TotalSteps"/>), f = (t - S0) / (S1 - S0), see
/// <see cref="LrSchedule.At"/>; lrT = scaled <c>end_lr</c>, else <see cref="LrSchedule.DefaultEnd"/>.
/// Steps past the end keep f = 1.</item>
/// <item>Warm-up: lr(t) = scheduled lr(t) * <see cref="Warmup.Factor"/>(t, W), W = <see cref="WarmupSteps"/>.</item>
/// </list>
/// </remarks>
public sealed class Regime
{
    private readonly OptimizerSettings initial;
    private readonly Phase[] phases;

    /// <summary>A phase with everything resolved: cumulative settings (declared scaled lr), start step, schedule.</summary>
    private sealed record Phase(long Start, OptimizerSettings Settings, ScheduleKind Schedule, double EndLr);

    /// <summary>Resolves the regime of <paramref name="training"/>.</summary>
    /// <param name="training">The job's training section; its regime may be null.</param>
    /// <param name="stepsPerEpoch">Optimizer steps in one epoch at this global batch (&gt;= 1).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="stepsPerEpoch"/> &lt; 1.</exception>
    /// <exception cref="UserFacingException">An invalid regime (phases out of order, negative values).</exception>
    public Regime(TrainingSpec training, int stepsPerEpoch)
    {
        ArgumentNullException.ThrowIfNull(training);
        ArgumentOutOfRangeException.ThrowIfLessThan(stepsPerEpoch, 1);
        StepsPerEpoch = stepsPerEpoch;
        var opt = training.Optimizer;
        var spec = training.Regime;

        Factor = spec is null ? 1.0 : LrScaling.Factor(spec.LrScaling, training.GlobalBatch, spec.BaseBatch);
        UpdateFactor = spec is null ? 1 : UpdateAdaptation.Factor(spec.AdaptUpdates, training.GlobalBatch, spec.BaseBatch);
        TotalEpochs = checked(training.Epochs * UpdateFactor);
        TotalSteps = (long)TotalEpochs * stepsPerEpoch;
        initial = new OptimizerSettings(opt.Lr * Factor, opt.Momentum, opt.WeightDecay, opt.Nesterov);

        if (spec is null)
        {
            phases = [];
            return;
        }
        if (spec.WarmupEpochs < 0 || double.IsNaN(spec.WarmupEpochs))
            throw new UserFacingException($"training.regime.warmup_epochs must be >= 0 (got {spec.WarmupEpochs})");
        if (spec.GradClipNorm < 0 || double.IsNaN(spec.GradClipNorm))
            throw new UserFacingException($"training.regime.grad_clip_norm must be >= 0, 0 = off (got {spec.GradClipNorm})");
        WarmupSteps = Warmup.Steps(spec.WarmupEpochs, stepsPerEpoch);
        GradClipNorm = spec.GradClipNorm;
        phases = Resolve(spec.Phases, initial, Factor, UpdateFactor, stepsPerEpoch);
    }

    /// <summary>Epochs to train: training.epochs * <see cref="UpdateFactor"/>.</summary>
    public int TotalEpochs { get; }

    /// <summary>Optimizer steps to train: <see cref="TotalEpochs"/> * <see cref="StepsPerEpoch"/>.</summary>
    public long TotalSteps { get; }

    /// <summary>Optimizer steps per epoch, as given.</summary>
    public long StepsPerEpoch { get; }

    /// <summary>The lr scale of <see cref="LrScaling"/> (1 without a regime).</summary>
    public double Factor { get; }

    /// <summary>k of <see cref="UpdateAdaptation"/> (1 without a regime or without adapt_updates).</summary>
    public int UpdateFactor { get; }

    /// <summary>W, the warm-up length in steps (0 = none).</summary>
    public long WarmupSteps { get; }

    /// <summary>Global L2 gradient norm limit; 0 = no clipping.</summary>
    public double GradClipNorm { get; }

    /// <summary>The step at which each phase starts, in spec order (after adaptation).</summary>
    public IReadOnlyList<long> PhaseStartSteps => phases.Select(p => p.Start).ToArray();

    /// <summary>The settings for update <paramref name="step"/> (0 = the first update).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> is negative.</exception>
    public OptimizerSettings At(long step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        int active = -1;
        // Phases are few (a handful), so a scan per step is cheaper than anything cleverer.
        for (int i = 0; i < phases.Length && phases[i].Start <= step; i++) active = i;

        var settings = initial;
        double lr = initial.Lr;
        if (active >= 0)
        {
            var phase = phases[active];
            settings = phase.Settings;
            // The next phase starts strictly later than this one (this is the last started), so the span is >= 1
            // unless the phase starts at or past the end of training, where f is pinned at 1.
            long end = active + 1 < phases.Length ? phases[active + 1].Start : TotalSteps;
            long span = end - phase.Start;
            double f = span > 0 ? (double)(step - phase.Start) / span : 1.0;
            lr = LrSchedule.At(phase.Schedule, settings.Lr, phase.EndLr, f);
        }
        lr *= Warmup.Factor(step, WarmupSteps);
        return settings with { Lr = lr };
    }

    private static Phase[] Resolve(IReadOnlyList<RegimePhase> specs, OptimizerSettings initial, double factor, int k, long stepsPerEpoch)
    {
        var resolved = new Phase[specs.Count];
        var current = initial;
        double previousEpoch = 0;
        for (int i = 0; i < specs.Count; i++)
        {
            var p = specs[i];
            string where = $"training.regime.phases[{i}]";
            if (p.Epoch < 0 || double.IsNaN(p.Epoch))
                throw new UserFacingException($"{where}.epoch must be >= 0 (got {p.Epoch})");
            if (p.Epoch < previousEpoch)
                throw new UserFacingException($"{where}.epoch {p.Epoch} comes before the previous phase's epoch {previousEpoch}; phases must be in epoch order");
            previousEpoch = p.Epoch;

            current = new OptimizerSettings(
                p.Lr is { } lr ? lr * factor : current.Lr,
                p.Momentum ?? current.Momentum,
                p.WeightDecay ?? current.WeightDecay,
                p.Nesterov ?? current.Nesterov);
            double endLr = p.EndLr is { } e ? e * factor : LrSchedule.DefaultEnd(p.Schedule, current.Lr);
            if (p.Schedule == ScheduleKind.Exp && (current.Lr <= 0 || endLr <= 0))
                throw new UserFacingException($"{where}: an exp schedule needs a positive lr and end_lr (got {current.Lr} and {endLr} after scaling)");

            long start = (long)Math.Round(p.Epoch * k * stepsPerEpoch, MidpointRounding.AwayFromZero);
            resolved[i] = new Phase(start, current, p.Schedule, endLr);
        }
        return resolved;
    }
}
