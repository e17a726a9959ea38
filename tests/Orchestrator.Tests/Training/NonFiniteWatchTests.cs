using Orchestrator.Spec;
using Orchestrator.Trainer.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Tests.Training;

public sealed class NonFiniteWatchTests
{
    private static readonly Parameter[] Finite = [new Parameter(ones(3))];

    [Fact]
    public void A_non_finite_streak_is_announced_once_and_its_end_too()
    {
        var watch = new NonFiniteWatch();
        Assert.Null(watch.AfterStep(1, 0, 2.3, 0.1, applied: true, Finite));
        var first = watch.AfterStep(2, 0, double.NaN, 0.1, applied: false, Finite);
        Assert.NotNull(first);
        Assert.Contains("step 2", first);
        Assert.Contains("NaN", first);
        Assert.Contains("skipped", first);
        Assert.Null(watch.AfterStep(3, 0, double.PositiveInfinity, 0.1, applied: false, Finite));
        var recovered = watch.AfterStep(4, 0, 1.9, 0.1, applied: true, Finite);
        Assert.Contains("finite again after 2 non-finite step(s) since step 2", recovered);
        Assert.Null(watch.AfterStep(5, 0, 1.8, 0.1, applied: true, Finite));
    }

    [Fact]
    public void Non_finite_parameters_after_a_non_finite_loss_stop_the_run()
    {
        var watch = new NonFiniteWatch();
        Parameter[] broken = [new Parameter(ones(2)), new Parameter(tensor(new[] { 1f, float.NaN }))];
        var error = Assert.Throws<UserFacingException>(() => watch.AfterStep(7, 2, double.NaN, 0.5, applied: true, broken));
        Assert.Contains("training diverged at step 7 (epoch 3, lr 0.5)", error.Message);
        // A finite loss never looks at the parameters (no cost for a healthy run, and nothing to stop for).
        Assert.Null(new NonFiniteWatch().AfterStep(7, 2, 1.0, 0.5, applied: true, broken));
    }

    [Fact]
    public void A_non_finite_test_loss_gets_a_notice()
    {
        Assert.Null(NonFiniteWatch.AfterEvaluation(3, 0.7));
        Assert.Contains("test loss is NaN", NonFiniteWatch.AfterEvaluation(3, double.NaN));
        Assert.Contains("-infinity", NonFiniteWatch.AfterEvaluation(3, double.NegativeInfinity));
    }
}
