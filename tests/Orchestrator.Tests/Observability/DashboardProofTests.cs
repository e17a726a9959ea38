using System.Text.Json;
using System.Text.RegularExpressions;
using Orchestrator.Spec;
using Orchestrator.Tests.Cli;

namespace Orchestrator.Tests.Observability;

/// <summary>
/// The Grafana dashboard is proven against real components: Debian's Prometheus scrapes a real 2-worker job run
/// THROUGH <c>orchestrator run</c> (embedded silo, local-mpi launcher, worker links) with the project's scrape config
/// (interval 1 s; the two ranks and the silo as targets), and EVERY <c>expr</c> in
/// <c>k8s/grafana/orchestrator-dashboard.json</c> must return data, as must the job variable's <c>label_values</c>;
/// every metric of the README's table must exist, and Orleans' own meters must be exported. A panel that cannot
/// show data is a defect.
/// </summary>
public sealed partial class DashboardProofTests
{
    private const string Job = "dash-proof";
    private const string RateInterval = "10s";
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(3);

    [Fact]
    public void Every_dashboard_expression_returns_data_from_a_real_prometheus_scraping_a_2_worker_job_run_by_the_silo()
    {
        var dashboard = JsonDocument.Parse(File.ReadAllText(RepoFiles.Path("k8s/grafana/orchestrator-dashboard.json"))).RootElement;
        var expressions = Exprs(dashboard).Select(e => e.Replace("$__rate_interval", RateInterval).Replace("$job", Job)).Distinct().ToList();
        Assert.True(expressions.Count >= 20, $"only {expressions.Count} expressions found in the dashboard");
        var readmeMetrics = ReadmeMetricNames();
        Assert.True(readmeMetrics.Count(m => m.StartsWith("orchestrator_trainer_", StringComparison.Ordinal)) >= 10, "the README's table lacks the trainer metrics");
        Assert.True(readmeMetrics.Count(m => m.StartsWith("orchestrator_silo_", StringComparison.Ordinal)) >= 10, "the README's table lacks the silo metrics");

        using var dir = new TempDirectory();
        int trainerPort = FreePorts.Consecutive(2), siloPort = FreePorts.Consecutive(1);
        using var prometheus = PrometheusServer.Start(ScrapeConfig(trainerPort, 2, siloPort), dir.Path, FreePorts.Consecutive(1));
        // Long enough (~1000 tiny steps) for every rank to heartbeat while training; the workers then linger (the job
        // stays Running, endpoints up) so the last values are scraped; the stall timeout is far above the linger.
        var spec = CliSpecs.Write(dir, $$"""
            name: {{Job}}
            device: cpu
            workers: 2
            model: { kind: mlp, width: 8 }
            data: { dataset: synthetic, train_subset: 1024, test_subset: 256 }
            training: { epochs: 60, global_batch: 64, threads: 1, seed: 5 }
            checkpoint: { every_steps: 320, keep: 2 }
            compression: { codec: int8, algorithm: ring, min_compress_elements: 256 }
            metrics: { port: {{trainerPort}} }
            fault: { stall_seconds: 600, max_restarts: 0 }
            """);
        var runDirectory = dir.File("run");
        using var job = BackgroundProcess.Start(CliRunner.DotnetHost(),
            [CliRunner.EntryAssembly, "run", spec, "--out", runDirectory, "--slots", "2", "--silo-metrics-port", siloPort.ToString(),
             "--worker-args", "--linger-seconds 90"],
            "the MPI tests need MPICH (apt-get install mpich)");

        // Every expression must return data in one round while the job runs (or lingers, endpoints still up).
        var deadline = DateTime.UtcNow + Limit;
        List<string> empty = expressions;
        while (true)
        {
            empty = expressions.Where(e => prometheus.Query(e).GetArrayLength() == 0).ToList();
            bool variableOk = prometheus.LabelValues("job", "orchestrator_trainer_samples_total").Contains(Job);
            bool bothRanksBeat = prometheus.Query($"count(orchestrator_silo_heartbeat_age_seconds{{job=\"{Job}\"}}) == 2").GetArrayLength() > 0;
            if (empty.Count == 0 && variableOk && bothRanksBeat) break;
            if (job.HasExited || DateTime.UtcNow > deadline)
                Assert.Fail($"dashboard expressions without data{(variableOk ? "" : " (and label_values(orchestrator_trainer_samples_total, job) lacks the job)")}"
                    + $"{(bothRanksBeat ? "" : " (and not both ranks' heartbeat ages)")}:\n"
                    + string.Join("\n", empty) + $"\n--- run output ---\n{job.Output}\n--- workers ---\n{LauncherLog(runDirectory)}\n--- prometheus ---\n{prometheus.Output}");
            Thread.Sleep(1000);
        }

        var names = prometheus.LabelValues("__name__");
        var missing = readmeMetrics.Where(m => !names.Contains(m) && !names.Contains(m + "_count")).ToList();
        Assert.True(missing.Count == 0, $"metrics in the README's table that Prometheus never saw: {string.Join(", ", missing)}\n{job.Output}");
        Assert.Contains(names, n => n.StartsWith("microsoft_orleans_", StringComparison.Ordinal)); // MeterAdapter attached to Orleans' meters
        Assert.Contains($"metrics: http://127.0.0.1:{siloPort}/metrics (silo)", job.Output);
        var workers = LauncherLog(runDirectory);
        Assert.Contains($"metrics: http://127.0.0.1:{trainerPort}/metrics (rank 0)", workers);
        Assert.Contains($"metrics: http://127.0.0.1:{trainerPort + 1}/metrics (rank 1)", workers);
        // The split is real: the int8 ring compresses, so both phases took time and the ratio is > 1.
        Assert.True(Value(prometheus, $"max(orchestrator_trainer_compression_ratio{{job=\"{Job}\"}})") > 1.5);
        Assert.True(Value(prometheus, $"min(orchestrator_trainer_step_compression_seconds_sum{{job=\"{Job}\"}})") > 0);
        Assert.True(Value(prometheus, $"min(orchestrator_trainer_step_communication_seconds_sum{{job=\"{Job}\"}})") > 0);
        Assert.Equal(2, Value(prometheus, $"max(orchestrator_trainer_world_size{{job=\"{Job}\"}})"));
        // The control plane's view of the same job: running, its gang holds both slots.
        Assert.Equal(2, Value(prometheus, $"max(orchestrator_silo_job_phase{{job=\"{Job}\"}})")); // Running
        Assert.Equal(2, Value(prometheus, $"max(orchestrator_silo_job_workers{{job=\"{Job}\"}})"));
        Assert.Equal(2, Value(prometheus, "max(orchestrator_silo_worker_slots_granted)"));
        Assert.Equal(1, Value(prometheus, "max(orchestrator_silo_jobs_running)"));
    }

    /// <summary>The project's scrape config with a 1 s interval and the test's targets (trainers, then the silo).</summary>
    private static string ScrapeConfig(int firstPort, int ranks, int siloPort)
    {
        var yaml = File.ReadAllText(RepoFiles.Path("k8s/prometheus/prometheus-local.yml"));
        Assert.Contains("honor_labels: true", yaml); // the trainers' own job label must survive the scrape
        var lines = TargetsLine().Matches(yaml);
        Assert.True(lines.Count == 2, $"expected two targets lines (trainers, silo) in the scrape config, found {lines.Count}");
        Assert.Contains("9400", lines[0].Value);
        Assert.Contains("9390", lines[1].Value);
        var trainers = string.Join(", ", Enumerable.Range(firstPort, ranks).Select(p => $"\"127.0.0.1:{p}\""));
        yaml = yaml[..lines[0].Index] + $"targets: [{trainers}]"
            + yaml[(lines[0].Index + lines[0].Length)..lines[1].Index] + $"targets: [\"127.0.0.1:{siloPort}\"]"
            + yaml[(lines[1].Index + lines[1].Length)..];
        return Interval().Replace(yaml, "_interval: 1s");
    }

    private static string LauncherLog(string runDirectory)
    {
        var path = RunLayout.LauncherLog(runDirectory);
        try { return File.Exists(path) ? File.ReadAllText(path) : $"({path} missing)"; }
        catch (IOException e) { return $"({path}: {e.Message})"; }
    }

    private static double Value(PrometheusServer prometheus, string expr)
    {
        var result = prometheus.Query(expr);
        Assert.True(result.GetArrayLength() > 0, $"no data for {expr}");
        return double.Parse(result[0].GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Every <c>expr</c> anywhere in the dashboard (panels, rows, nested panels).</summary>
    private static IEnumerable<string> Exprs(JsonElement element)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject())
            {
                if (property.Name == "expr" && property.Value.ValueKind == JsonValueKind.String)
                    yield return property.Value.GetString()!;
                else
                    foreach (var e in Exprs(property.Value)) yield return e;
            }
        }
        else if (element.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in element.EnumerateArray())
                foreach (var e in Exprs(item)) yield return e;
        }
    }

    /// <summary>Metric names in the first column of the README's metrics table.</summary>
    private static List<string> ReadmeMetricNames() =>
        File.ReadLines(RepoFiles.Path("README.md"))
            .Select(line => ReadmeRow().Match(line))
            .Where(m => m.Success)
            .Select(m => m.Groups[1].Value)
            .Distinct()
            .ToList();

    [GeneratedRegex(@"targets:\s*\[[^\]]*\]")]
    private static partial Regex TargetsLine();

    [GeneratedRegex(@"_interval:\s*\d+[smh]")]
    private static partial Regex Interval();

    [GeneratedRegex(@"^\|\s*`(orchestrator_(?:trainer|silo)_[a-z_]+)`")]
    private static partial Regex ReadmeRow();
}
