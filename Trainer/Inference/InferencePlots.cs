using System.Globalization;
using ScottPlot;

namespace Orchestrator.Trainer.Inference;

/// <summary>The latency distribution of an inference run as a PNG histogram, with the reported percentile and the bound marked.</summary>
public static class InferencePlots
{
    /// <summary>Writes the histogram of <paramref name="latenciesSeconds"/> (shown in milliseconds) to <paramref name="path"/>.</summary>
    /// <param name="percentileLabel">e.g. "p99".</param>
    /// <param name="percentileSeconds">The reported percentile, marked with a line.</param>
    /// <param name="boundSeconds">The latency bound, marked with a dashed line; null when the scenario has none.</param>
    public static void WriteLatencyHistogram(string path, IReadOnlyList<double> latenciesSeconds, string title,
        string percentileLabel, double percentileSeconds, double? boundSeconds)
    {
        var ms = latenciesSeconds.Select(l => l * 1000).ToArray();
        var plot = new Plot();
        if (ms.Length > 0)
        {
            double low = ms.Min(), high = ms.Max();
            int bins = Math.Clamp((int)Math.Sqrt(ms.Length), 1, 60);
            double width = high > low ? (high - low) / bins : Math.Max(high * 0.01, 1e-3);
            var counts = new double[bins];
            foreach (var v in ms) counts[Math.Min(bins - 1, (int)((v - low) / width))]++;
            var bars = plot.Add.Bars(Enumerable.Range(0, bins).Select(i => low + (i + 0.5) * width).ToArray(), counts);
            foreach (var bar in bars.Bars) bar.Size = width;
            bars.LegendText = $"{ms.Length} queries";
        }
        string F(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
        if (double.IsFinite(percentileSeconds))
        {
            var line = plot.Add.VerticalLine(percentileSeconds * 1000);
            line.LegendText = $"{percentileLabel} {F(percentileSeconds * 1000)} ms";
        }
        if (boundSeconds is { } bound)
        {
            var line = plot.Add.VerticalLine(bound * 1000);
            line.LinePattern = LinePattern.Dashed;
            line.LegendText = $"bound {F(bound * 1000)} ms";
        }
        plot.Title(title);
        plot.XLabel("latency (ms)");
        plot.YLabel("queries");
        plot.ShowLegend();
        plot.SavePng(path, 900, 500);
    }
}
