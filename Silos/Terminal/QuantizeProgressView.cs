using Orchestrator.Trainer.PostTraining;
using Spectre.Console;

namespace Orchestrator.Silos.Terminal;

/// <summary>
/// Shows post-training quantization's long steps: a Spectre.Console bar per step on a terminal, a plain line per step
/// when output is redirected.
/// </summary>
public sealed class QuantizeProgressView : IQuantizeProgress
{
    private readonly ProgressContext? context;
    private ProgressTask? current;

    private QuantizeProgressView(ProgressContext? context) => this.context = context;

    /// <summary>Runs <paramref name="body"/> with a progress view suited to the console.</summary>
    public static T Show<T>(Func<IQuantizeProgress, T> body)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive) return body(new QuantizeProgressView(null));
        T result = default!;
        AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(context =>
            {
                var view = new QuantizeProgressView(context);
                result = body(view);
                if (view.current is not null) view.current.Value = view.current.MaxValue;
            });
        return result;
    }

    /// <inheritdoc/>
    public void Stage(string name)
    {
        if (current is not null) current.Value = current.MaxValue;
        if (context is null)
        {
            Console.WriteLine(name);
            return;
        }
        current = context.AddTask(Markup.Escape(name), maxValue: 1);
    }

    /// <inheritdoc/>
    public void Report(double fraction)
    {
        if (current is not null) current.Value = Math.Clamp(fraction, 0, 1);
    }

    /// <inheritdoc/>
    public void Notice(string message) => AnsiConsole.MarkupLineInterpolated($"[grey]{message}[/]");
}
