using Orchestrator.Trainer.Inference.LoadGen;
using Prometheus;

namespace Orchestrator.Trainer.Inference;

/// <summary>
/// The Prometheus metrics of an inference benchmark, in a registry of their own: the query-latency histogram and the
/// run's figures, labelled by scenario and settings (<c>official</c> or <c>smoke</c>). Written as a text-format file
/// (node exporter's textfile collector reads it) and servable on an endpoint while the run lasts.
/// </summary>
public sealed class InferenceMetrics
{
    /// <summary>Prefix of every inference metric name.</summary>
    public const string Prefix = "orchestrator_inference_";

    private static readonly string[] Labels = ["model", "scenario", "settings"];
    // 50 us .. ~26 s: a single small-CNN sample on a fast core up to an offline query of many thousand samples.
    private static readonly double[] LatencyBuckets = Histogram.ExponentialBuckets(0.00005, 2, 20);

    private readonly Histogram.Child latency;
    private readonly Counter.Child queries;
    private readonly Counter.Child samples;
    private readonly Gauge.Child percentile;
    private readonly Gauge.Child bound;
    private readonly Gauge.Child throughput;
    private readonly Gauge.Child valid;
    private readonly Gauge.Child accuracy;

    /// <param name="model">The run directory's name (bounded: one per benchmark process).</param>
    /// <param name="settings">The scenario and whether the settings are official or smoke.</param>
    public InferenceMetrics(string model, ScenarioSettings settings)
    {
        var factory = Metrics.WithCustomRegistry(Registry);
        string[] values = [model, settings.Scenario.Name(), settings.Label];
        Gauge.Child GaugeOf(string name, string help) =>
            factory.CreateGauge(Prefix + name, help, new GaugeConfiguration { LabelNames = Labels }).WithLabels(values);
        latency = factory.CreateHistogram(Prefix + "query_latency_seconds",
            "Per query: arrival (multi-stream, server) or issue to completion.", new HistogramConfiguration { LabelNames = Labels, Buckets = LatencyBuckets }).WithLabels(values);
        queries = factory.CreateCounter(Prefix + "queries_total", "Queries completed in the performance run.", new CounterConfiguration { LabelNames = Labels }).WithLabels(values);
        samples = factory.CreateCounter(Prefix + "samples_total", "Samples completed in the performance run.", new CounterConfiguration { LabelNames = Labels }).WithLabels(values);
        percentile = GaugeOf("percentile_latency_seconds", "The scenario's latency percentile (90th single-stream and offline, 99th multi-stream and server).");
        bound = GaugeOf("latency_bound_seconds", "The bound that percentile must meet (the multi-stream interval, the server bound); NaN when none.");
        throughput = GaugeOf("samples_per_second", "Samples completed per second of the performance run.");
        valid = GaugeOf("valid", "1 when the run met every LoadGen rule (VALID), 0 when not.");
        accuracy = GaugeOf("accuracy", "Accuracy (0..1) of accuracy mode over the test set; NaN when not run.");
        bound.Set(settings.LatencyBound?.TotalSeconds ?? double.NaN);
        accuracy.Set(double.NaN);
    }

    /// <summary>The registry holding these metrics (to serve or export).</summary>
    public CollectorRegistry Registry { get; } = Metrics.NewCustomRegistry();

    /// <summary>Records one query's latency in seconds.</summary>
    public void OnQuery(double seconds, int querySamples)
    {
        latency.Observe(seconds);
        queries.Inc();
        samples.Inc(querySamples);
    }

    /// <summary>Records the run's figures and verdict (latencies go through <see cref="OnQuery"/>).</summary>
    public void OnRun(LoadGenRun run, LoadGenVerdict verdict)
    {
        percentile.Set(run.PercentileLatency);
        throughput.Set(run.SamplesPerSecond);
        valid.Set(verdict.Valid ? 1 : 0);
    }

    /// <summary>Records accuracy mode's result.</summary>
    public void OnAccuracy(AccuracyResult result) => accuracy.Set(result.Accuracy);

    /// <summary>Everything in the Prometheus text format.</summary>
    public string ExportText()
    {
        using var stream = new MemoryStream();
        Registry.CollectAndExportAsTextAsync(stream).GetAwaiter().GetResult();
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }
}
