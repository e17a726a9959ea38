using ScottPlot;

namespace Orchestrator.Trainer.Telemetry;

/// <summary>PNG curves of a run for people who will not open Grafana.</summary>
public static class TrainingPlots
{
    /// <summary>Writes <c>loss.png</c> (training loss per step, test loss per epoch) and
    /// <c>accuracy.png</c> (training batch and test accuracy) into <paramref name="directory"/>.</summary>
    public static IReadOnlyList<string> Write(string directory, IReadOnlyList<StepRecord> steps, IReadOnlyList<EvalRecord> evaluations)
    {
        var lossPath = Path.Combine(directory, "loss.png");
        var accuracyPath = Path.Combine(directory, "accuracy.png");
        double[] stepX = steps.Select(s => (double)s.Step).ToArray();
        double[] evalX = evaluations.Select(e => (double)e.Step).ToArray();

        var loss = new Plot();
        AddSeries(loss, stepX, steps.Select(s => s.Loss).ToArray(), "train loss", markers: false);
        AddSeries(loss, evalX, evaluations.Select(e => e.TestLoss).ToArray(), "test loss", markers: true);
        loss.Title("Loss");
        loss.XLabel("step");
        loss.YLabel("cross-entropy");
        loss.ShowLegend();
        loss.SavePng(lossPath, 900, 500);

        var accuracy = new Plot();
        AddSeries(accuracy, stepX, steps.Select(s => s.Accuracy).ToArray(), "train batch accuracy", markers: false);
        AddSeries(accuracy, evalX, evaluations.Select(e => e.TestAccuracy).ToArray(), "test accuracy", markers: true);
        accuracy.Title("Accuracy");
        accuracy.XLabel("step");
        accuracy.YLabel("fraction correct");
        accuracy.ShowLegend();
        accuracy.SavePng(accuracyPath, 900, 500);
        return [lossPath, accuracyPath];
    }

    private static void AddSeries(Plot plot, double[] xs, double[] ys, string label, bool markers)
    {
        if (xs.Length == 0) return;
        var scatter = plot.Add.Scatter(xs, ys);
        scatter.LegendText = label;
        scatter.MarkerSize = markers ? 7 : 0;
    }
}
