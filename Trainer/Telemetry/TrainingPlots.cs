using Orchestrator.Spec;
using ScottPlot;

namespace Orchestrator.Trainer.Telemetry;

/// <summary>PNG curves of a run for people who will not open Grafana.</summary>
public static class TrainingPlots
{
    /// <summary>Writes <c>loss.png</c> (training loss per step, test loss per epoch),
    /// <c>accuracy.png</c> (training batch and test accuracy), <c>throughput.png</c> (samples/s per step
    /// and its moving average) and <c>step-time.png</c> (compute / compression / communication seconds
    /// per step, stacked) into <paramref name="directory"/>.</summary>
    public static IReadOnlyList<string> Write(string directory, IReadOnlyList<StepRecord> steps, IReadOnlyList<EvalRecord> evaluations)
    {
        var lossPath = Path.Combine(directory, RunLayout.LossPlot);
        var accuracyPath = Path.Combine(directory, RunLayout.AccuracyPlot);
        double[] stepX = steps.Select(s => (double)s.Step).ToArray();
        double[] evalX = evaluations.Select(e => (double)e.Step).ToArray();

        var loss = new Plot();
        AddSeries(loss, stepX, steps.Select(s => s.Loss).ToArray(), "train loss", markers: false);
        AddSeries(loss, evalX, evaluations.Select(e => e.TestLoss).ToArray(), "test loss", markers: true);
        Save(loss, "Loss", "cross-entropy", lossPath);

        var accuracy = new Plot();
        AddSeries(accuracy, stepX, steps.Select(s => s.Accuracy).ToArray(), "train batch accuracy", markers: false);
        AddSeries(accuracy, evalX, evaluations.Select(e => e.TestAccuracy).ToArray(), "test accuracy", markers: true);
        Save(accuracy, "Accuracy", "fraction correct", accuracyPath);

        var throughputPath = Path.Combine(directory, RunLayout.ThroughputPlot);
        var rates = steps.Select(s => s.Samples / Math.Max(s.Seconds, 1e-9)).ToArray();
        var throughput = new Plot();
        AddSeries(throughput, stepX, rates, "samples/s", markers: false);
        AddSeries(throughput, stepX, MovingAverage(rates, 20), "moving average (20 steps)", markers: false);
        Save(throughput, "Throughput", "samples / s (global batch)", throughputPath);

        var stepTimePath = Path.Combine(directory, RunLayout.StepTimePlot);
        var compute = MovingAverage(steps.Select(s => s.ComputeSeconds * 1000).ToArray(), 10);
        var compression = MovingAverage(steps.Select(s => s.CompressionSeconds * 1000).ToArray(), 10);
        var communication = MovingAverage(steps.Select(s => s.CommunicationSeconds * 1000).ToArray(), 10);
        var stepTime = new Plot();
        // Stacked: each curve is the running total up to that phase, so the gaps between curves are the phases.
        var computePlusCompression = compute.Zip(compression, (a, b) => a + b).ToArray();
        AddSeries(stepTime, stepX, compute, "compute", markers: false);
        AddSeries(stepTime, stepX, computePlusCompression, "+ compression", markers: false);
        AddSeries(stepTime, stepX, computePlusCompression.Zip(communication, (a, b) => a + b).ToArray(), "+ communication (= step)", markers: false);
        Save(stepTime, "Step time (10-step moving average, stacked)", "milliseconds", stepTimePath);
        return [lossPath, accuracyPath, throughputPath, stepTimePath];
    }

    private static void Save(Plot plot, string title, string yLabel, string path)
    {
        plot.Title(title);
        plot.XLabel("step");
        plot.YLabel(yLabel);
        plot.ShowLegend();
        plot.SavePng(path, 900, 500);
    }

    private static double[] MovingAverage(double[] values, int window)
    {
        var result = new double[values.Length];
        double sum = 0;
        for (int i = 0; i < values.Length; i++)
        {
            sum += values[i];
            if (i >= window) sum -= values[i - window];
            result[i] = sum / Math.Min(i + 1, window);
        }
        return result;
    }

    private static void AddSeries(Plot plot, double[] xs, double[] ys, string label, bool markers)
    {
        if (xs.Length == 0) return;
        var scatter = plot.Add.Scatter(xs, ys);
        scatter.LegendText = label;
        scatter.MarkerSize = markers ? 7 : 0;
    }
}
