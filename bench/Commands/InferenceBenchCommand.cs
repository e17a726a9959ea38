using System.CommandLine;
using System.Globalization;
using Orchestrator.Bench.Drivers;
using Orchestrator.Silos.Commands;
using Orchestrator.Silos.Terminal;
using Orchestrator.Spec;
using Orchestrator.Trainer.Inference.LoadGen;
using Spectre.Console;

namespace Orchestrator.Bench.Commands;

/// <summary>
/// <c>orchestrator bench inference MODEL --scenario ...</c>: a trained model under MLPerf LoadGen's rules (see
/// <see cref="InferenceBenchmark"/>). Exit 0 for a VALID run, 1 for an INVALID one (the reasons are printed), 2 for bad input.
/// </summary>
public static class InferenceBenchCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("MODEL") { Description = "A run directory the trainer wrote (spec.yaml and checkpoints/), or a directory orchestrator quantize wrote" };
        var scenario = new Option<string>("--scenario") { Description = "single-stream | multi-stream | server | offline", Required = true };
        scenario.AcceptOnlyFromAmong([.. InferenceScenarioNames.All]);
        var smoke = new Option<bool>("--smoke") { Description = "Short smoke settings (seconds, not LoadGen's 60 s and 1024 / 270,336 queries); labelled SMOKE, never a valid MLPerf result" };
        var mode = new Option<string>("--mode") { Description = "performance | accuracy | both", DefaultValueFactory = _ => "both" };
        mode.AcceptOnlyFromAmong("performance", "accuracy", "both");
        var samplesPerQuery = new Option<int>("--samples-per-query") { Description = "multi-stream: N samples per query (0 = search for the largest N within the interval)", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var interval = new Option<double>("--interval-ms") { Description = "multi-stream: the query interval, which the 99th-percentile latency must meet", DefaultValueFactory = _ => ScenarioSettings.DefaultInterval.TotalMilliseconds };
        var qps = new Option<double>("--qps") { Description = "server: target queries/s of the Poisson arrivals (0 = search for the highest within the bound)", DefaultValueFactory = _ => 0 };
        var bound = new Option<double?>("--latency-bound-ms") { Description = "server: the 99th-percentile latency bound (default 15 ms); single-stream: an optional bound on the 90th percentile" };
        var batch = new Option<int>("--batch") { Description = "Most samples per forward (offline, multi-stream, accuracy mode)", DefaultValueFactory = _ => 256 }.AtLeast(1);
        var serverBatch = new Option<int>("--server-batch") { Description = "server: most queued queries run in one forward (1 = one at a time)", DefaultValueFactory = _ => 8 }.AtLeast(1);
        var threads = new Option<int>("--threads") { Description = "Torch threads (0 = all cores)", DefaultValueFactory = _ => 1 }.AtLeast(0);
        var seed = new Option<int>("--seed") { Description = "Seeds the sample choice and the arrivals", DefaultValueFactory = _ => 1 };
        var minQueries = new Option<long?>("--min-queries") { Description = "Replace the minimum query count (below LoadGen's: labelled smoke)" };
        var minDuration = new Option<double?>("--min-duration") { Description = "Replace the minimum duration in seconds (below LoadGen's 60: labelled smoke)" };
        var maxDuration = new Option<double?>("--max-duration") { Description = "Stop issuing queries after this many seconds (a run cut short is INVALID)" };
        var device = new Option<string?>("--device") { Description = "auto | cpu | cuda (default: the run's device setting)" };
        device.AcceptOnlyFromAmong("auto", "cpu", "cuda");
        var output = new Option<string?>("--out") { Description = "Output directory (default MODEL/inference/SCENARIO[-smoke])" };
        var pytorch = new Option<bool>("--pytorch") { Description = "offline: also time PyTorch 1.13 on the same CNN, batch, samples and threads (cnn with norm: batch on Fashion-MNIST)" };
        var python = new Option<string>("--python") { Description = "Python with PyTorch (Debian python3-torch)", DefaultValueFactory = _ => "/usr/bin/python3" };
        var command = new Command("inference", "A trained model under MLPerf LoadGen's rules: latency/throughput per scenario, VALID/INVALID, accuracy; result.json, latency.png, metrics.prom")
            { model, scenario, smoke, mode, samplesPerQuery, interval, qps, bound, batch, serverBatch, threads, seed, minQueries, minDuration, maxDuration, device, output, pytorch, python };
        command.SetAction(parse => CommandGuard.Run(() =>
        {
            static TimeSpan? Seconds(double? value, string option) => value switch
            {
                null => null,
                > 0 and < 1e7 => TimeSpan.FromSeconds(value.Value),
                _ => throw new UserFacingException($"{option}: must be > 0 seconds, got {value.Value.ToString(CultureInfo.InvariantCulture)}"),
            };
            static TimeSpan Milliseconds(double value, string option) => value is >= 0.0001 and < 1e9
                ? TimeSpan.FromTicks((long)Math.Round(value * TimeSpan.TicksPerMillisecond))
                : throw new UserFacingException($"{option}: must be at least 0.0001 ms (the clock's resolution), got {value.ToString(CultureInfo.InvariantCulture)}");
            var chosen = InferenceScenarioNames.Parse(parse.GetValue(scenario)!)!.Value;
            if (parse.GetValue(qps) is < 0 or double.NaN or double.PositiveInfinity)
                throw new UserFacingException($"--qps: must be >= 0 (0 = search), got {parse.GetValue(qps).ToString(CultureInfo.InvariantCulture)}");
            if (parse.GetValue(minQueries) is < 1)
                throw new UserFacingException($"--min-queries: must be >= 1, got {parse.GetValue(minQueries)}");
            string which = parse.GetValue(mode)!;
            var options = new InferenceBenchOptions(parse.GetValue(model)!, chosen, parse.GetValue(smoke),
                which is "performance" or "both", which is "accuracy" or "both",
                parse.GetValue(samplesPerQuery), Milliseconds(parse.GetValue(interval), "--interval-ms"), parse.GetValue(qps),
                parse.GetValue(bound) is { } b ? Milliseconds(b, "--latency-bound-ms") : null,
                parse.GetValue(batch), parse.GetValue(serverBatch), parse.GetValue(threads), parse.GetValue(seed),
                parse.GetValue(minQueries), Seconds(parse.GetValue(minDuration), "--min-duration"), Seconds(parse.GetValue(maxDuration), "--max-duration"),
                parse.GetValue(output), parse.GetValue(device) is { } d ? SpecChoice.ParseUserInput<DeviceKind>("--device", d, SpecNames.SpecName) : null,
                parse.GetValue(pytorch) ? parse.GetValue(python) : null);
            var report = InferenceBenchmark.Run(options, line => AnsiConsole.WriteLine(line));
            Print(report);
            return report.Verdict is "INVALID" ? 1 : 0;
        }));
        return command;
    }

    private static void Print(InferenceReport r)
    {
        string F(double? v, string format = "0.###") => v is { } x && double.IsFinite(x) ? x.ToString(format, CultureInfo.InvariantCulture) : "-";
        var table = new Table().AddColumn("figure").AddColumn("value");
        void Row(string name, string value) => table.AddRow(Markup.Escape(name), Markup.Escape(value));
        Row("scenario", $"{r.Scenario} ({r.Settings} settings)");
        Row("model", $"{r.Model} (step {r.CheckpointStep}, {r.Device}, {r.Threads} threads)");
        if (r.Verdict is not null)
        {
            if (r.MetricName is not null) Row(r.MetricName, $"{F(r.MetricValue, "0.##")} {r.MetricUnit}");
            Row("queries / samples", $"{r.Queries} / {r.Samples} in {F(r.DurationSeconds, "0.00")} s (minimum {r.MinQueries} queries, {F(r.MinDurationSeconds)} s" +
                (r.MinSamples > 0 ? $", {r.MinSamples} samples" : "") + ")");
            Row($"p{r.Percentile * 100:0.#} latency", $"{F(r.PercentileLatencyMs, "0.000")} ms" + (r.LatencyBoundMs is { } b ? $" (bound {F(b)} ms)" : ""));
            if (r.LatencyMs is { } l)
                Row("latency min/mean/p50/p90/p99/max", $"{F(l.Min, "0.000")} / {F(l.Mean, "0.000")} / {F(l.P50, "0.000")} / {F(l.P90, "0.000")} / {F(l.P99, "0.000")} / {F(l.Max, "0.000")} ms");
            Row("throughput", $"{F(r.SamplesPerSecond, "0.0")} samples/s, {F(r.QueriesPerSecond, "0.0")} queries/s");
            if (r.PytorchSamplesPerSecond is { } torch)
                Row("PyTorch 1.13, same CNN/batch/samples", $"{F(torch, "0.0")} samples/s (ours / PyTorch = {F(r.SamplesPerSecond / torch, "0.00")})");
            if (r.Search.Count > 0)
                Row("capacity search", string.Join(", ", r.Search.Select(p => $"{F(p.Load, "0.#")}:{(p.Passed ? "ok" : "over")}")));
        }
        if (r.Accuracy is { } a)
            Row("accuracy (test set)", $"{F(a * 100, "0.00")}%" + (r.ReportedTestAccuracy is { } t ? $" (training's summary.json: {F(t * 100, "0.00")}%)" : ""));
        Row("output", r.OutputDirectory);
        AnsiConsole.Write(table);
        string label = r.Settings == "smoke" ? " [yellow](SMOKE settings: not a valid MLPerf result)[/]" : "";
        if (r.Verdict == "VALID") AnsiConsole.MarkupLine($"[green]VALID[/]{label}");
        else if (r.Verdict == "INVALID") AnsiConsole.MarkupLine($"[red]INVALID[/]: {Markup.Escape(string.Join("; ", r.Reasons))}{label}");
    }
}
