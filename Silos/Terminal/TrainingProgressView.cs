using Orchestrator.Trainer.Telemetry;
using Spectre.Console;

namespace Orchestrator.Silos.Terminal;

/// <summary>
/// Shows training progress: a live Spectre.Console bar on a terminal (epoch, step, loss, accuracy,
/// samples/s, and the bar's own remaining-time column), plain periodic lines with the same figures and an ETA
/// when output is redirected (CI logs, files).
/// </summary>
public sealed class TrainingProgressView : ITrainingObserver
{
    private readonly ProgressTask? bar;
    private TrainingPlan? plan;
    private RemainingTime? remaining;
    private double samplesPerSecond;
    private long lastPrinted;

    private TrainingProgressView(ProgressTask? bar) => this.bar = bar;

    /// <summary>Runs <paramref name="body"/> with a progress view suited to the console.</summary>
    public static T Show<T>(Func<ITrainingObserver, T> body)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
            return body(new TrainingProgressView(null));
        T result = default!;
        AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(context => result = body(new TrainingProgressView(context.AddTask("starting", maxValue: 1))));
        return result;
    }

    public void OnStart(TrainingPlan plan)
    {
        this.plan = plan;
        remaining = new RemainingTime(plan.TotalSteps);
        lastPrinted = plan.StartStep;
        AnsiConsole.MarkupLineInterpolated($"[grey]{plan.Parameters:N0} parameters on {plan.Device} with {plan.Threads} threads; {plan.TotalSteps} steps ({plan.StepsPerEpoch}/epoch x {plan.Epochs} epochs)[/]");
        if (bar is null) return;
        bar.MaxValue = Math.Max(1, plan.TotalSteps);
        bar.Value = plan.StartStep;
    }

    public void OnStep(StepRecord step)
    {
        double current = step.Samples / Math.Max(step.Seconds, 1e-9);
        samplesPerSecond = samplesPerSecond == 0 ? current : 0.9 * samplesPerSecond + 0.1 * current;
        var text = $"epoch {step.Epoch + 1}/{plan?.Epochs} step {step.Step}/{plan?.TotalSteps} loss {step.Loss:F4} acc {step.Accuracy:P1} {samplesPerSecond:N0} samples/s";
        if (bar is not null)
        {
            bar.Description = Markup.Escape(text);
            bar.Value = step.Step;
        }
        else if (plan is not null && remaining is not null)
        {
            // Every step feeds the estimate, so a printed ETA reflects all steps since the first.
            var eta = remaining.Update(step.Step, step.Elapsed, step.Seconds);
            if ((step.Step - lastPrinted) * 20 >= plan.TotalSteps)
            {
                lastPrinted = step.Step;
                Console.WriteLine($"{text} ETA {RemainingTime.Format(eta)}");
            }
        }
    }

    public void OnEvaluation(EvalRecord evaluation) =>
        AnsiConsole.MarkupLineInterpolated($"epoch {evaluation.Epoch + 1}: test loss {evaluation.TestLoss:F4}, test accuracy [bold]{evaluation.TestAccuracy:P2}[/]");

    public void OnNotice(string message) => AnsiConsole.MarkupLineInterpolated($"[yellow]note:[/] {message}");
}
