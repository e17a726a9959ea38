using System.Diagnostics;
using System.Text.Json;
using Orchestrator.Spec;
using Orchestrator.Trainer.Devices;
using Orchestrator.Trainer.Inference;
using Orchestrator.Trainer.Inference.LoadGen;
using Orchestrator.Trainer.Telemetry;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Bench.Drivers;

/// <summary>What <c>bench inference</c> was asked to do.</summary>
/// <param name="RunDirectory">The trained model's run directory.</param>
/// <param name="Scenario">The LoadGen scenario.</param>
/// <param name="Smoke">LoadGen's rules with the short smoke minimums.</param>
/// <param name="Performance">Run performance mode (the timed run).</param>
/// <param name="Accuracy">Run accuracy mode (every test sample once).</param>
/// <param name="SamplesPerQuery">Multi-stream's N; 0 = search for the largest that meets the interval.</param>
/// <param name="Interval">Multi-stream's interval.</param>
/// <param name="Qps">Server's target rate; 0 = search for the highest that meets the bound.</param>
/// <param name="LatencyBound">Server's bound (null: 15 ms); single-stream: an optional bound on the 90th percentile.</param>
/// <param name="Batch">Most samples per forward (offline, multi-stream, accuracy mode).</param>
/// <param name="ServerBatch">Most server queries run together when they have arrived by the time the model is free.</param>
/// <param name="Threads">Torch threads (0 = all cores).</param>
/// <param name="Seed">Seeds the samples and arrivals.</param>
/// <param name="MinQueries">Replaces the minimum query count (lower than LoadGen's: labelled smoke).</param>
/// <param name="MinDuration">Replaces the minimum duration (shorter than LoadGen's: labelled smoke).</param>
/// <param name="MaxDuration">Stop issuing after this long (a run cut short is INVALID).</param>
/// <param name="Out">Output directory; null = RUN/inference/SCENARIO[-smoke].</param>
/// <param name="Device">Overrides the run's <c>device</c>.</param>
/// <param name="Python">Offline: also time PyTorch (this Python, with python3-torch) on the same CNN, batch, samples and threads; null = no.</param>
internal sealed record InferenceBenchOptions(string RunDirectory, InferenceScenario Scenario, bool Smoke, bool Performance, bool Accuracy,
    int SamplesPerQuery, TimeSpan Interval, double Qps, TimeSpan? LatencyBound, int Batch, int ServerBatch, int Threads, int Seed,
    long? MinQueries, TimeSpan? MinDuration, TimeSpan? MaxDuration, string? Out, DeviceKind? Device, string? Python = null);

/// <summary>One probe of a capacity search: the load tried, its percentile latency, and whether it met the bound.</summary>
internal sealed record CapacityProbe(double Load, double PercentileLatencyMs, bool Passed);

/// <summary>Latency figures of a run, in milliseconds.</summary>
internal sealed record LatencySummary(double Min, double Mean, double P50, double P90, double P99, double Max)
{
    public static LatencySummary Of(IReadOnlyList<double> seconds) => seconds.Count == 0
        ? new(double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN)
        : new(seconds.Min() * 1000, seconds.Average() * 1000, LatencyPercentile.Of(seconds, 0.5) * 1000,
            LatencyPercentile.Of(seconds, 0.9) * 1000, LatencyPercentile.Of(seconds, 0.99) * 1000, seconds.Max() * 1000);
}

/// <summary>What <c>bench inference</c> writes to <c>result.json</c> and prints.</summary>
internal sealed record InferenceReport(
    string Scenario, string Settings, string Model, string Checkpoint, long CheckpointStep, string Device, int Threads,
    string? Verdict, IReadOnlyList<string> Reasons, string? MetricName, double MetricValue, string? MetricUnit,
    long Queries, long Samples, double DurationSeconds, double Percentile, double PercentileLatencyMs, double? LatencyBoundMs,
    double SamplesPerSecond, double QueriesPerSecond, int SamplesPerQuery, double TargetQps, long MinQueries, double MinDurationSeconds,
    long MinSamples, LatencySummary? LatencyMs, IReadOnlyList<CapacityProbe> Search, double? Accuracy, double? ReportedTestAccuracy,
    string OutputDirectory, double? PytorchSamplesPerSecond = null);

/// <summary>
/// <c>bench inference</c>: a trained model under MLPerf LoadGen's rules (ALGORITHMS.md section 11). Loads the run's newest
/// valid checkpoint, warms up, finds multi-stream's N or server's rate when not given (short probe runs, doubling then
/// bisection), runs the scenario for real and judges it, runs accuracy mode on the test set, and writes
/// <c>result.json</c>, <c>latency.png</c> and <c>metrics.prom</c>.
/// </summary>
internal static class InferenceBenchmark
{
    /// <summary>Result, plot and metrics files in the output directory.</summary>
    public const string ResultFile = "result.json", PlotFile = "latency.png", MetricsFile = "metrics.prom";

    private const int MaxSamplesPerQuery = 4096;

    /// <summary>The server run's rate as a fraction of the highest rate a probe passed at.</summary>
    private const double ServerMargin = 0.9;

    public static InferenceReport Run(InferenceBenchOptions o, Action<string> log)
    {
        var device = DeviceSelector.Select(o.Device ?? DeviceKind.Auto);
        int threads = ThreadBudget.Apply(o.Threads);
        using var trained = TrainedModel.Load(o.RunDirectory, device, log);
        if (o.Device is null && trained.Spec.Device != DeviceKind.Auto) device = DeviceSelector.Select(trained.Spec.Device);
        trained.Model.to(device);
        using var system = new ModelSystemUnderTest(trained.Model, trained.Test.Images, device, o.Batch);
        int library = trained.Test.Count;
        log($"model {o.RunDirectory}: {trained.Spec.Model.Kind.SpecName()} w{trained.Spec.Model.Width} {trained.Spec.Model.Norm.SpecName()}, " +
            $"checkpoint step {trained.Step}, {library} test samples, {device.type.ToString().ToLowerInvariant()}, {threads} threads");

        var settings = Settings(o);
        if (settings.Problem() is { } problem) throw new UserFacingException($"bench inference: {problem}");
        string label = settings.IsSmoke ? "SMOKE settings (shorter than LoadGen's minimums: not a valid MLPerf result)" : "official LoadGen minimums";
        log($"{o.Scenario.Name()}: {label}");

        // Warm-up: the first forwards of a shape allocate and pick kernels (offline runs forwards of --batch samples).
        int warmRows = o.Scenario == InferenceScenario.Offline ? o.Batch : Math.Max(1, settings.SamplesPerQuery);
        for (int i = 0; i < 3; i++) system.Run(Enumerable.Range(0, warmRows).Select(s => s % library).ToArray());

        var search = new List<CapacityProbe>();
        var clock = new StopwatchClock();
        var runner = new LoadGenRunner(clock, system, o.ServerBatch);
        // Searches and the offline probe only size the performance run.
        if (o.Performance && o.Scenario == InferenceScenario.MultiStream && o.SamplesPerQuery == 0)
        {
            var probe = Probe(settings, o.Smoke);
            int n = CapacitySearch.LargestPassing(Math.Min(MaxSamplesPerQuery, library), n => Passes(runner, probe with { SamplesPerQuery = n }, library, search, n));
            settings = settings with { SamplesPerQuery = Math.Max(1, n) };
            log($"multi-stream: largest N meeting the {o.Interval.TotalMilliseconds:0.###} ms interval in probes: {n}" + (n == 0 ? " (none: running N = 1)" : ""));
        }
        if (o.Performance && o.Scenario == InferenceScenario.Server && o.Qps == 0)
        {
            double single = SingleSampleSeconds(system, library);
            var probe = Probe(settings, o.Smoke);
            // The lowest rate worth trying still reaches the minimum query count within most of the maximum duration.
            double floor = settings.MaxDuration is { } cap ? Math.Max(0.1, settings.MinQueryCount / (0.8 * cap.TotalSeconds)) : 0.1;
            double start = Math.Max(floor, 0.5 / single);
            double qps = CapacitySearch.HighestPassingRate(start, floor, Math.Max(start, 200 * Math.Max(1, o.ServerBatch) / single), 0.1,
                rate => Passes(runner, probe with { QueriesPerSecond = rate }, library, search, rate));
            // The run itself goes at 90% of the highest passing probe: a probe's 99th percentile over a few hundred queries
            // is noisy, and the rate at the edge fails as often as it passes.
            settings = settings with { QueriesPerSecond = qps > 0 ? Math.Max(floor, ServerMargin * qps) : floor };
            log($"server: highest rate meeting the {settings.LatencyBound!.Value.TotalMilliseconds:0.###} ms bound in probes: {qps:F1} queries/s" +
                (qps == 0 ? $" (none down to {floor:0.#}: running {floor:0.#} queries/s)" : $"; running at {ServerMargin * 100:0}% of it, {settings.QueriesPerSecond:F1} queries/s"));
        }

        long offlineSamples = 0;
        if (o.Performance && o.Scenario == InferenceScenario.Offline)
        {
            // The expected rate, from forwards of --batch samples for a while (1/20 of the minimum duration, at least 0.2 s).
            var probeClock = Stopwatch.StartNew();
            long probed = 0;
            var probeBatch = Enumerable.Range(0, o.Batch).Select(s => s % library).ToArray();
            while (probeClock.Elapsed.TotalSeconds < Math.Max(0.2, settings.MinDuration.TotalSeconds / 20))
            {
                system.Run(probeBatch);
                probed += probeBatch.Length;
            }
            offlineSamples = OfflineSamples(settings, probed / probeClock.Elapsed.TotalSeconds);
            log($"offline: one query of {offlineSamples} samples (probe: {probed / probeClock.Elapsed.TotalSeconds:F0} samples/s)");
        }

        var metrics = new InferenceMetrics(Path.GetFileName(Path.GetFullPath(o.RunDirectory).TrimEnd('/')), settings);
        LoadGenRun? run = null;
        LoadGenVerdict? verdict = null;
        if (o.Performance)
        {
            log($"performance run: at least {settings.MinQueryCount} queries and {settings.MinDuration.TotalSeconds:0.##} s ...");
            run = runner.Run(settings, QueryGenerator.Generate(settings, library, offlineSamples));
            for (int retry = 1; o.Scenario == InferenceScenario.Offline && run.Duration < settings.MinDuration && retry <= 2; retry++)
            {
                // The probe overestimated the time per sample (or the machine got faster): size the query from the run itself,
                // as a submitter would, with 20% more margin per retry. A run still short after that is reported INVALID.
                offlineSamples = (long)Math.Min(int.MaxValue, OfflineSamples(settings, run.SamplesPerSecond) * (1 + 0.2 * retry));
                log($"offline: the query took {run.Duration.TotalSeconds:0.##} s, under the minimum; again with {offlineSamples} samples");
                run = runner.Run(settings, QueryGenerator.Generate(settings, library, offlineSamples));
            }
            verdict = LoadGenVerdict.Judge(run);
            int perQuery = o.Scenario == InferenceScenario.Offline ? (int)run.SampleCount : settings.SamplesPerQuery;
            foreach (var latency in run.Latencies) metrics.OnQuery(latency, perQuery);
            metrics.OnRun(run, verdict);
        }

        double? pytorch = null;
        if (o.Python is { } python && run is not null)
        {
            var spec = trained.Spec;
            if (o.Scenario != InferenceScenario.Offline || spec.Model.Kind != ModelKind.Cnn || spec.Model.Norm != NormKind.Batch || spec.Data.Dataset != DatasetKind.FashionMnist)
                throw new UserFacingException("--pytorch: the PyTorch peer mirrors the offline scenario of the cnn with norm: batch on Fashion-MNIST only");
            string script = Path.Combine(AppContext.BaseDirectory, "bench", "pytorch", "offline_inference.py");
            log($"PyTorch: the same CNN, batch {o.Batch}, {run.SampleCount} samples, {threads} threads ...");
            pytorch = TrainThroughputBenchmark.MeasureProcess(python,
                [script, "--root", spec.Data.Root, "--threads", $"{threads}", "--batch", $"{o.Batch}", "--samples", $"{run.SampleCount}",
                 "--width", $"{spec.Model.Width}", "--seed", $"{o.Seed}"], TimeSpan.FromMinutes(15));
        }

        AccuracyResult? accuracy = null;
        if (o.Accuracy)
        {
            int perQuery = o.Scenario switch
            {
                InferenceScenario.Offline => o.Batch,
                InferenceScenario.MultiStream => settings.SamplesPerQuery,
                _ => 1,
            };
            log($"accuracy run: {library} test samples, {perQuery} per query ...");
            using var labels = trained.Test.Labels.cpu().to(ScalarType.Int64);
            accuracy = AccuracyMode.Run(system, labels.data<long>().ToArray().Select(l => (int)l).ToArray(), perQuery);
            metrics.OnAccuracy(accuracy);
        }

        var outDir = o.Out ?? Path.Combine(o.RunDirectory, "inference", o.Scenario.Name() + (settings.IsSmoke ? "-smoke" : ""));
        var report = Report(o, settings, trained, device, threads, run, verdict, search, accuracy, Path.GetFullPath(outDir), offlineSamples) with
        {
            PytorchSamplesPerSecond = pytorch,
        };
        Write(outDir, report, run, metrics);
        return report;
    }

    /// <summary>LoadGen sizes the offline query to last the minimum duration at the expected rate, with 10% margin.</summary>
    private static long OfflineSamples(ScenarioSettings settings, double samplesPerSecond) =>
        Math.Min(int.MaxValue, Math.Max(settings.MinSampleCount, (long)Math.Ceiling(samplesPerSecond * settings.MinDuration.TotalSeconds * 1.1)));

    private static ScenarioSettings Settings(InferenceBenchOptions o)
    {
        var bound = o.Scenario switch
        {
            InferenceScenario.MultiStream => o.Interval,
            InferenceScenario.Offline => (TimeSpan?)null,
            _ => o.LatencyBound,
        };
        var s = o.Smoke
            ? ScenarioSettings.Smoke(o.Scenario, Math.Max(1, o.SamplesPerQuery), o.Qps > 0 ? o.Qps : 1, bound, o.Seed)
            : ScenarioSettings.Official(o.Scenario, Math.Max(1, o.SamplesPerQuery), o.Qps > 0 ? o.Qps : 1, bound, o.Seed);
        if (o.Scenario == InferenceScenario.SingleStream) s = s with { LatencyBound = o.LatencyBound };
        if (o.MinQueries is { } q) s = s with { MinQueryCount = q };
        if (o.MinDuration is { } d) s = s with { MinDuration = d };
        if (o.MaxDuration is { } m) s = s with { MaxDuration = m };
        return s;
    }

    /// <summary>Settings of a capacity-search probe: the scenario's rules with a short run.</summary>
    private static ScenarioSettings Probe(ScenarioSettings settings, bool smoke) => settings with
    {
        MinQueryCount = settings.Scenario == InferenceScenario.Server ? (smoke ? 200 : 1000) : (smoke ? 20 : 100),
        MinDuration = TimeSpan.FromSeconds(smoke ? 0.3 : 2),
        MaxDuration = TimeSpan.FromSeconds(smoke ? 5 : 20),
    };

    private static bool Passes(LoadGenRunner runner, ScenarioSettings probe, int library, List<CapacityProbe> search, double load)
    {
        var run = runner.Run(probe, QueryGenerator.Generate(probe, library));
        bool passed = run.QueryCount > 0 && !run.HitMaxDuration && run.PercentileLatency <= probe.LatencyBound!.Value.TotalSeconds;
        search.Add(new CapacityProbe(load, run.PercentileLatency * 1000, passed));
        return passed;
    }

    /// <summary>Median seconds of one single-sample query, to start the server search near the model's capacity.</summary>
    private static double SingleSampleSeconds(ISystemUnderTest system, int library)
    {
        var times = new List<double>();
        for (int i = 0; i < 21; i++)
        {
            var clock = Stopwatch.StartNew();
            system.Run([i % library]);
            times.Add(clock.Elapsed.TotalSeconds);
        }
        return Math.Max(times.Order().ElementAt(times.Count / 2), 1e-6);
    }

    private static InferenceReport Report(InferenceBenchOptions o, ScenarioSettings s, TrainedModel trained, Device device, int threads,
        LoadGenRun? run, LoadGenVerdict? verdict, List<CapacityProbe> search, AccuracyResult? accuracy, string outDir, long offlineSamples)
    {
        (string? name, double value, string? unit) metric = (o.Scenario, run, verdict) switch
        {
            (_, null, _) => (null, double.NaN, null),
            (InferenceScenario.SingleStream, _, _) => ("90th-percentile latency", run.PercentileLatency * 1000, "ms"),
            (InferenceScenario.MultiStream, _, _) => ("samples per query within the interval", verdict!.Valid ? s.SamplesPerQuery : 0, "samples"),
            (InferenceScenario.Server, _, _) => ("queries per second within the bound", verdict!.Valid ? s.QueriesPerSecond : 0, "queries/s"),
            (InferenceScenario.Offline, _, _) => ("samples per second", run.SamplesPerSecond, "samples/s"),
        };
        return new InferenceReport(o.Scenario.Name(), s.Label, Path.GetFullPath(o.RunDirectory), trained.CheckpointPath, trained.Step,
            device.type.ToString().ToLowerInvariant(), threads, verdict?.Valid switch { true => "VALID", false => "INVALID", null => null },
            verdict?.Reasons ?? [], metric.name, metric.value, metric.unit,
            run?.QueryCount ?? 0, run?.SampleCount ?? 0, run?.Duration.TotalSeconds ?? 0, s.LatencyPercentile,
            run?.PercentileLatency * 1000 ?? double.NaN, s.LatencyBound?.TotalMilliseconds,
            run?.SamplesPerSecond ?? 0, run?.QueriesPerSecond ?? 0,
            o.Scenario == InferenceScenario.Offline ? (int)offlineSamples : s.SamplesPerQuery,
            s.Scenario == InferenceScenario.Server || s.Scenario == InferenceScenario.MultiStream ? s.QueriesPerSecond : 0,
            s.MinQueryCount, s.MinDuration.TotalSeconds, s.MinSampleCount, run is null ? null : LatencySummary.Of(run.Latencies), search,
            accuracy?.Accuracy, trained.ReportedTestAccuracy, outDir);
    }

    /// <summary>Writes the files into a fresh directory next to the output and renames it into place, so a failure leaves nothing half written.</summary>
    private static void Write(string outDir, InferenceReport report, LoadGenRun? run, InferenceMetrics metrics)
    {
        var full = Path.GetFullPath(outDir);
        var temp = full.TrimEnd('/') + $".tmp-{Environment.ProcessId}";
        try
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            Directory.CreateDirectory(temp);
            File.WriteAllText(Path.Combine(temp, ResultFile), JsonSerializer.Serialize(report, JsonFormat.Indented) + "\n");
            File.WriteAllText(Path.Combine(temp, MetricsFile), metrics.ExportText());
            if (run is not null)
            {
                string percentile = $"p{report.Percentile * 100:0.#}";
                InferencePlots.WriteLatencyHistogram(Path.Combine(temp, PlotFile), run.Latencies,
                    $"{report.Scenario} ({report.Settings}): {report.Verdict}", percentile, run.PercentileLatency, run.Settings.LatencyBound?.TotalSeconds);
            }
            if (Directory.Exists(full)) Directory.Delete(full, recursive: true);
            Directory.Move(temp, full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            throw new UserFacingException($"--out {outDir}: cannot write the results ({e.Message})");
        }
    }
}
