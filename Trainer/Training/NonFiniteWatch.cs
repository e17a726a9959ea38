using Orchestrator.Spec;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Training;

/// <summary>
/// Turns NaN and infinite losses into messages a user can act on. A non-finite training loss is announced
/// once per streak (every worker skips a non-finite gradient, so a run can recover) and its end is announced
/// too; once the parameters themselves are no longer finite no later step can recover, and the run stops with
/// a <see cref="UserFacingException"/> that says what to change instead of training on NaN for hours.
/// </summary>
/// <remarks>
/// The loss it sees is the sum over all workers and the parameters are bit-identical across workers, so every
/// rank announces and stops at the same step. Parameters are only inspected after a non-finite loss: a healthy
/// run pays nothing.
/// </remarks>
public sealed class NonFiniteWatch
{
    private long streakStart = -1;

    /// <summary>Whether the last step seen had a non-finite loss.</summary>
    public bool InStreak => streakStart >= 0;

    /// <summary>
    /// Looks at the step that has just produced <paramref name="loss"/> (<paramref name="step"/> counted from 1) and returns
    /// the notice to show, if any.
    /// </summary>
    /// <exception cref="UserFacingException">The loss is not finite and neither are the parameters after the step.</exception>
    public string? AfterStep(long step, int epoch, double loss, double lr, bool applied, IEnumerable<Parameter> parameters)
    {
        if (double.IsFinite(loss))
        {
            if (!InStreak) return null;
            var recovered = $"step {step}: the training loss is finite again after {step - streakStart} non-finite step(s) since step {streakStart}";
            streakStart = -1;
            return recovered;
        }
        if (!AllFinite(parameters))
            throw new UserFacingException(
                $"training diverged at step {step} (epoch {epoch + 1}, lr {lr:G4}): the training loss is {Describe(loss)} and the model's parameters " +
                "are no longer finite, so no later step can recover. Lower the learning rate (training.optimizer.lr, training.regime.phases), " +
                "clip gradients (training.regime.grad_clip_norm) or lengthen the warm-up (training.regime.warmup_epochs)");
        if (InStreak) return null;
        streakStart = step;
        return $"step {step} (epoch {epoch + 1}, lr {lr:G4}): the training loss is {Describe(loss)}; " +
            (applied ? "the update was applied and the parameters are still finite" : "every worker skipped this update (a gradient was not finite)");
    }

    /// <summary>The notice for an evaluation whose test loss is not finite, else null.</summary>
    public static string? AfterEvaluation(long step, double testLoss) =>
        double.IsFinite(testLoss)
            ? null
            : $"evaluation after step {step}: the test loss is {Describe(testLoss)}; the model's running statistics or parameters are not finite " +
              "(metrics files record it as the string \"NaN\" or \"Infinity\")";

    private static string Describe(double value) => double.IsNaN(value) ? "NaN" : value > 0 ? "+infinity" : "-infinity";

    private static bool AllFinite(IEnumerable<Parameter> parameters)
    {
        using var noGrad = no_grad();
        foreach (var p in parameters)
        {
            using var finite = isfinite(p).all();
            if (!finite.item<bool>()) return false;
        }
        return true;
    }
}
