using Orchestrator.Spec;
using Orchestrator.Trainer.Regimes;
using static Orchestrator.Tests.Regimes.RegimeSpecs;

namespace Orchestrator.Tests.Regimes;

public sealed class RegimeTests
{
    private const double Tol = 1e-12;

    [Fact]
    public void No_regime_means_constant_optimizer_settings()
    {
        var r = new Regime(TrainingOf(null, epochs: 7, batch: 4096), stepsPerEpoch: 13);
        Assert.Equal(7, r.TotalEpochs);
        Assert.Equal(91, r.TotalSteps);
        Assert.Equal(1.0, r.Factor);
        Assert.Equal(1, r.UpdateFactor);
        Assert.Equal(0, r.WarmupSteps);
        Assert.Equal(0.0, r.GradClipNorm);
        Assert.Empty(r.PhaseStartSteps);
        var expected = new OptimizerSettings(Sgd.Lr, Sgd.Momentum, Sgd.WeightDecay, Sgd.Nesterov);
        foreach (long t in new long[] { 0, 1, 45, 90, 91, 10_000 })
            Assert.Equal(expected, r.At(t));
    }

    [Fact]
    public void Later_phases_override_only_what_they_set()
    {
        var spec = PhasesOnly(
            new RegimePhase(1, Lr: 0.1, Momentum: 0.5, WeightDecay: 1e-3),
            new RegimePhase(3, Lr: 0.01),
            new RegimePhase(5, WeightDecay: 0, Nesterov: true),
            new RegimePhase(6, Momentum: 0.95, Lr: 0.02));
        var r = new Regime(TrainingOf(spec), stepsPerEpoch: 2);

        Assert.Equal(new OptimizerSettings(Sgd.Lr, Sgd.Momentum, Sgd.WeightDecay, false), r.At(1)); // before phase 0
        Assert.Equal(new OptimizerSettings(0.1, 0.5, 1e-3, false), r.At(2));
        Assert.Equal(new OptimizerSettings(0.01, 0.5, 1e-3, false), r.At(6)); // momentum and wd kept
        Assert.Equal(new OptimizerSettings(0.01, 0.5, 0, true), r.At(10)); // lr kept, wd overridden
        Assert.Equal(new OptimizerSettings(0.02, 0.95, 0, true), r.At(12));
    }

    [Fact]
    public void Phases_at_the_same_epoch_apply_in_order()
    {
        var r = new Regime(TrainingOf(PhasesOnly(new RegimePhase(0, Lr: 0.1, Momentum: 0.7), new RegimePhase(0, Lr: 0.3))), stepsPerEpoch: 5);
        Assert.Equal(new OptimizerSettings(0.3, 0.7, Sgd.WeightDecay, false), r.At(0));
    }

    [Fact]
    public void Grad_clip_norm_passes_through()
    {
        var spec = new RegimeSpec(LrScalingKind.None, 128, false, 0, 5.0, [new RegimePhase(0, Lr: 0.1)]);
        Assert.Equal(5.0, new Regime(TrainingOf(spec), 10).GradClipNorm);
    }

    [Theory]
    [InlineData(0.0, 0.1)]
    [InlineData(80.99, 0.1)]
    [InlineData(81.0, 0.01)]
    [InlineData(121.99, 0.01)]
    [InlineData(122.0, 1e-3)]
    [InlineData(164.0, 1e-4)]
    public void Cifar_resnet_regime(double epoch, double lr)
    {
        const int stepsPerEpoch = 391; // ceil(50000 / 128)
        var r = new Regime(TrainingOf(CifarResNet(), epochs: 200, batch: 128), stepsPerEpoch);
        var s = r.At((long)Math.Floor(epoch * stepsPerEpoch));
        Assert.Equal(new OptimizerSettings(lr, 0.9, 1e-4, false), s with { Lr = lr });
        Assert.Equal(lr, s.Lr, Tol);
    }

    [Theory]
    [InlineData(0.0, 0.1)]
    [InlineData(80.99, 0.1)]
    [InlineData(81.0, 0.01)]
    [InlineData(121.99, 0.01)]
    [InlineData(122.0, 1e-3)]
    [InlineData(164.0, 1e-4)]
    public void Cifar_resnet_regime_at_batch_4096_with_sqrt_scaling_and_adapted_updates(double epoch, double lr)
    {
        // The paper's full fix: lr * sqrt(32), milestones at 32x the epochs (each of 1/32 the steps).
        const int k = 32, stepsPerEpoch = 13; // ceil(50000 / 4096)
        var r = new Regime(TrainingOf(CifarResNet(LrScalingKind.Sqrt, adapt: true), epochs: 200, batch: 4096), stepsPerEpoch);
        Assert.Equal(200 * k, r.TotalEpochs);
        var s = r.At((long)Math.Floor(epoch * k * stepsPerEpoch));
        Assert.Equal(lr * Math.Sqrt(k), s.Lr, Tol);
        Assert.Equal(0.9, s.Momentum);
    }

    [Fact]
    public void Invalid_regimes_are_user_errors()
    {
        Assert.Throws<UserFacingException>(() => new Regime(TrainingOf(PhasesOnly(new RegimePhase(5, Lr: 0.1), new RegimePhase(2, Lr: 0.01))), 10));
        Assert.Throws<UserFacingException>(() => new Regime(TrainingOf(PhasesOnly(new RegimePhase(-1, Lr: 0.1))), 10));
        Assert.Throws<UserFacingException>(() => new Regime(TrainingOf(new RegimeSpec(LrScalingKind.None, 128, false, -1, 0, [])), 10));
        Assert.Throws<UserFacingException>(() => new Regime(TrainingOf(new RegimeSpec(LrScalingKind.None, 128, false, 0, -5, [])), 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Regime(TrainingOf(null), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Regime(TrainingOf(null), 10).At(-1));
    }
}
