using Orchestrator.Spec;
using Orchestrator.Trainer.Regimes;
using static Orchestrator.Tests.Regimes.RegimeSpecs;

namespace Orchestrator.Tests.Regimes;

public sealed class ScalingAndAdaptationTests
{
    private const double Tol = 1e-12;

    [Theory]
    [InlineData("none", 1.0)]
    [InlineData("sqrt", 5.656854249492380195)] // sqrt(4096 / 128) = sqrt(32)
    [InlineData("linear", 32.0)]
    public void Scaling_rules_at_4096_over_128(string rule, double expected)
    {
        Assert.Equal(expected, LrScaling.Factor(Named.LrScaling(rule), 4096, 128), Tol);
        Assert.Equal(Math.Sqrt(32), LrScaling.Factor(LrScalingKind.Sqrt, 4096, 128), Tol);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("sqrt")]
    [InlineData("linear")]
    public void Scaling_multiplies_phase_lr_end_lr_and_optimizer_lr(string rule)
    {
        double factor = rule switch { "none" => 1, "sqrt" => Math.Sqrt(32), _ => 32 };
        var spec = new RegimeSpec(Named.LrScaling(rule), 128, false, 0, 0,
        [
            new RegimePhase(1, Lr: 0.1, Schedule: ScheduleKind.Linear, EndLr: 0.01),
            new RegimePhase(3, Momentum: 0.5),
        ]);
        var regime = new Regime(TrainingOf(spec, epochs: 5, batch: 4096), stepsPerEpoch: 10);

        Assert.Equal(factor, regime.Factor, Tol);
        Assert.Equal(Sgd.Lr * factor, regime.At(0).Lr, Tol); // before any phase: the optimizer's lr, scaled
        Assert.Equal(0.1 * factor, regime.At(10).Lr, Tol); // f = 0
        Assert.Equal((0.1 + 0.01) / 2 * factor, regime.At(20).Lr, Tol); // f = 1/2: halfway between the scaled ends
        // A phase without lr keeps the declared scaled lr of the phase before it.
        Assert.Equal(0.1 * factor, regime.At(30).Lr, Tol);
    }

    [Theory]
    [InlineData(1024, 128, true, 8)]
    [InlineData(1000, 128, true, 8)] // ceil(7.8125)
    [InlineData(1025, 128, true, 9)]
    [InlineData(128, 128, true, 1)]
    [InlineData(1024, 128, false, 1)]
    public void Update_factor_is_ceil_of_batch_ratio(int batch, int baseBatch, bool adapt, int expected) =>
        Assert.Equal(expected, UpdateAdaptation.Factor(adapt, batch, baseBatch));

    [Theory]
    [InlineData(1024)]
    [InlineData(1000)]
    public void Adapted_regime_multiplies_epochs_and_milestones_but_not_warmup(int batch)
    {
        const int k = 8, stepsPerEpoch = 7;
        var spec = new RegimeSpec(LrScalingKind.None, 128, true, WarmupEpochs: 1, 0,
        [
            new RegimePhase(0, Lr: 0.1),
            new RegimePhase(2, Lr: 0.01),
        ]);
        var regime = new Regime(TrainingOf(spec, epochs: 10, batch: batch), stepsPerEpoch);

        Assert.Equal(k, regime.UpdateFactor);
        Assert.Equal(80, regime.TotalEpochs);
        Assert.Equal(80L * stepsPerEpoch, regime.TotalSteps);
        Assert.Equal([0L, 2L * k * stepsPerEpoch], regime.PhaseStartSteps);
        Assert.Equal(0.1, regime.At(2L * k * stepsPerEpoch - 1).Lr, Tol);
        Assert.Equal(0.01, regime.At(2L * k * stepsPerEpoch).Lr, Tol);
        // Warm-up lasts one (unadapted) epoch.
        Assert.Equal(stepsPerEpoch, regime.WarmupSteps);
        Assert.Equal(0.1 / stepsPerEpoch, regime.At(0).Lr, Tol);
        Assert.Equal(0.1, regime.At(stepsPerEpoch - 1).Lr, Tol);
    }

    [Fact]
    public void Without_adaptation_epochs_and_milestones_stay()
    {
        var spec = new RegimeSpec(LrScalingKind.Sqrt, 128, false, 0, 0, [new RegimePhase(0, Lr: 0.1), new RegimePhase(2, Lr: 0.01)]);
        var regime = new Regime(TrainingOf(spec, epochs: 10, batch: 1024), stepsPerEpoch: 7);
        Assert.Equal(1, regime.UpdateFactor);
        Assert.Equal(10, regime.TotalEpochs);
        Assert.Equal(70, regime.TotalSteps);
        Assert.Equal([0L, 14L], regime.PhaseStartSteps);
    }

    [Fact]
    public void Bad_rules_and_batches_are_user_errors()
    {
        Assert.Throws<UserFacingException>(() => LrScaling.Factor(LrScalingKind.Sqrt, 256, 0));
        Assert.Throws<UserFacingException>(() => UpdateAdaptation.Factor(true, 256, 0));
        // base_batch is unused when nothing needs it.
        Assert.Equal(1.0, LrScaling.Factor(LrScalingKind.None, 256, 0));
        Assert.Equal(1, UpdateAdaptation.Factor(false, 256, 0));
    }
}
