using Orchestrator.Spec;
using Orchestrator.Trainer.Regimes;
using static Orchestrator.Tests.Regimes.RegimeSpecs;

namespace Orchestrator.Tests.Regimes;

/// <summary>
/// Phase 0 (schedule under test, lr 0.1) runs epochs 0-10 at 10 steps per epoch, so T = 100 steps and
/// f = t / 100; phase 1 (constant lr 0.002) starts at step 100.
/// </summary>
public sealed class ScheduleTests
{
    private const double Tol = 1e-12;
    private const double Lr0 = 0.1, Next = 0.002;

    private static Regime Build(string schedule, double? endLr = null, double warmupEpochs = 0) =>
        new(TrainingOf(new RegimeSpec(LrScalingKind.None, 128, false, warmupEpochs, 0,
        [
            new RegimePhase(0, Lr: Lr0, Schedule: Named.Schedule(schedule), EndLr: endLr),
            new RegimePhase(10, Lr: Next),
        ]), epochs: 20), stepsPerEpoch: 10);

    [Fact]
    public void Linear_decays_to_zero_by_default()
    {
        var r = Build("linear");
        Assert.Equal(0.1, r.At(0).Lr, Tol);
        Assert.Equal(0.05, r.At(50).Lr, Tol);
        Assert.Equal(0.001, r.At(99).Lr, Tol); // 0.1 * (1 - 0.99)
        Assert.Equal(Next, r.At(100).Lr, Tol);
    }

    [Fact]
    public void Linear_to_end_lr_and_floored_at_zero()
    {
        var r = Build("linear", endLr: 0.02);
        Assert.Equal(0.06, r.At(50).Lr, Tol);
        Assert.Equal(0.1 + 0.99 * (0.02 - 0.1), r.At(99).Lr, Tol);

        var below = Build("linear", endLr: -0.1);
        Assert.Equal(0.1 + 0.25 * -0.2, below.At(25).Lr, Tol);
        Assert.Equal(0.0, below.At(50).Lr); // 0.1 + 0.5 (-0.2) = 0
        Assert.Equal(0.0, below.At(75).Lr); // would be -0.05
    }

    [Fact]
    public void Cosine_anneals_from_lr_to_end()
    {
        var r = Build("cosine");
        Assert.Equal(0.1, r.At(0).Lr, Tol);
        Assert.Equal(0.05, r.At(50).Lr, Tol);
        Assert.Equal(0.1 * (1 + Math.Cos(Math.PI * 0.99)) / 2, r.At(99).Lr, Tol);
        Assert.Equal(Next, r.At(100).Lr, Tol);

        var toEnd = Build("cosine", endLr: 0.01);
        Assert.Equal(0.055, toEnd.At(50).Lr, Tol);
        Assert.Equal(0.01 + 0.09 * (1 + Math.Cos(Math.PI * 0.25)) / 2, toEnd.At(25).Lr, Tol);
    }

    [Fact]
    public void Exp_decays_two_decades_by_default()
    {
        var r = Build("exp");
        Assert.Equal(0.1, r.At(0).Lr, Tol);
        Assert.Equal(0.01, r.At(50).Lr, Tol); // 0.1 * (1/100)^(1/2)
        Assert.Equal(0.1 * Math.Pow(0.01, 0.99), r.At(99).Lr, Tol);
        Assert.Equal(Next, r.At(100).Lr, Tol);
    }

    [Fact]
    public void Exp_with_end_lr()
    {
        var r = Build("exp", endLr: 0.0001);
        Assert.Equal(0.1 * Math.Pow(0.001, 0.5), r.At(50).Lr, Tol);
        Assert.Equal(0.1 * Math.Pow(0.001, 0.25), r.At(25).Lr, Tol);
        Assert.Equal(0.1 * Math.Pow(0.001, 0.99), r.At(99).Lr, Tol);
    }

    [Fact]
    public void Last_phase_runs_to_the_end_of_training_and_stays_there()
    {
        // One cosine phase from epoch 5 of 10 at 4 steps per epoch: steps 20..40.
        var r = new Regime(TrainingOf(PhasesOnly(new RegimePhase(0, Lr: 0.2), new RegimePhase(5, Lr: 0.1, Schedule: ScheduleKind.Cosine)), epochs: 10), stepsPerEpoch: 4);
        Assert.Equal(0.2, r.At(19).Lr, Tol);
        Assert.Equal(0.1, r.At(20).Lr, Tol);
        Assert.Equal(0.05, r.At(30).Lr, Tol);
        Assert.Equal(0.1 * (1 + Math.Cos(Math.PI * 19 / 20.0)) / 2, r.At(39).Lr, Tol);
        Assert.Equal(0.0, r.At(40).Lr, Tol); // past the end: f stays 1
        Assert.Equal(0.0, r.At(1000).Lr, Tol);
    }

    [Fact]
    public void Warm_up_ramps_the_scheduled_lr()
    {
        // W = 2 epochs = 20 steps, on top of the linear phase.
        var r = Build("linear", warmupEpochs: 2);
        const int w = 20;
        Assert.Equal(w, r.WarmupSteps);
        Assert.Equal(0.1 * (1.0 / w), r.At(0).Lr, Tol);
        Assert.Equal((0.1 - 0.001 * (w / 2)) * ((w / 2 + 1.0) / w), r.At(w / 2).Lr, Tol);
        Assert.Equal(0.1 - 0.001 * (w - 1), r.At(w - 1).Lr, Tol); // factor reaches 1 at t = W - 1
        Assert.Equal(0.1 - 0.001 * w, r.At(w).Lr, Tol);
    }

    [Fact]
    public void Warm_up_of_a_constant_linearly_scaled_lr()
    {
        // Goyal et al.: linear scaling 4096/128 = 32 with a 5-epoch warm-up, 3 steps per epoch: W = 15.
        var spec = new RegimeSpec(LrScalingKind.Linear, 128, false, 5, 0, [new RegimePhase(0, Lr: 0.1)]);
        var r = new Regime(TrainingOf(spec, epochs: 10, batch: 4096), stepsPerEpoch: 3);
        const double lr = 0.1 * 32;
        Assert.Equal(15, r.WarmupSteps);
        Assert.Equal(lr / 15, r.At(0).Lr, Tol);
        Assert.Equal(lr * 8 / 15, r.At(7).Lr, Tol); // t = floor(W/2)
        Assert.Equal(lr, r.At(14).Lr, Tol);
        Assert.Equal(lr, r.At(15).Lr, Tol);
    }

    [Fact]
    public void Fractional_phase_epochs_start_at_the_rounded_step()
    {
        // 0.25 * 10 = 2.5 steps: rounds away from zero to step 3.
        var r = new Regime(TrainingOf(PhasesOnly(new RegimePhase(0, Lr: 0.1), new RegimePhase(0.25, Lr: 0.01))), stepsPerEpoch: 10);
        Assert.Equal([0L, 3L], r.PhaseStartSteps);
        Assert.Equal(0.1, r.At(2).Lr, Tol);
        Assert.Equal(0.01, r.At(3).Lr, Tol);
    }

    [Fact]
    public void Schedule_helper_clamps_the_fraction()
    {
        Assert.Equal(0.1, LrSchedule.At(ScheduleKind.Linear, 0.1, 0, -0.5), Tol);
        Assert.Equal(0.0, LrSchedule.At(ScheduleKind.Cosine, 0.1, 0, 1.5), Tol);
        Assert.Equal(0.1, LrSchedule.At(ScheduleKind.Constant, 0.1, 0.5, 0.7), Tol);
    }

    [Fact]
    public void Bad_schedules_are_user_errors()
    {
        Assert.Throws<UserFacingException>(() => Build("exp", endLr: 0));
        var noLr = new RegimeSpec(LrScalingKind.None, 128, false, 0, 0, [new RegimePhase(0, Schedule: ScheduleKind.Exp)]);
        Assert.Throws<UserFacingException>(() => new Regime(TrainingOf(noLr, optimizer: Sgd with { Lr = 0 }), 10));
    }
}
