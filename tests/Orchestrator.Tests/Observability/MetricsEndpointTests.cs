using Orchestrator.Tests.Cli;
using Orchestrator.Trainer.Telemetry;

namespace Orchestrator.Tests.Observability;

/// <summary>A worker's <c>/metrics</c>: what it serves, and the documented fallback when its port is taken.</summary>
public sealed class MetricsEndpointTests
{
    private static readonly string[] Names =
    [
        "samples_total", "steps_total", "step_compute_seconds", "step_compression_seconds", "step_communication_seconds",
        "allreduce_sent_bytes_total", "allreduce_received_bytes_total", "compression_ratio", "loss", "test_accuracy",
        "learning_rate", "epoch", "last_step_timestamp_seconds", "world_size", "skipped_steps_total", "checkpoints_written_total",
    ];

    private static string Scrape(MetricsEndpoint endpoint)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        return http.GetStringAsync(endpoint.Url).GetAwaiter().GetResult();
    }

    [Fact]
    public void Every_metric_is_served_with_job_and_rank_labels_and_the_step_split()
    {
        var metrics = new TrainerMetrics("demo", 1, 2, "int8");
        var log = new List<string>();
        using var endpoint = MetricsEndpoint.TryStart(metrics.Registry, "127.0.0.1", FreePorts.Consecutive(2) - 1, 1, 2, log.Add, log.Add);
        Assert.NotNull(endpoint);
        Assert.Equal([$"metrics: {endpoint.Url} (rank 1)"], log);

        metrics.ObserveStep(new StepRecord(1, 0, 0.1, 0.9, 2.5, 0.2, 64, Seconds: 1.0, Elapsed: 1.0,
            CompressionSeconds: 0.25, CommunicationSeconds: 0.5, BytesSent: 1000, BytesReceived: 900, CompressionRatio: 3.5));
        metrics.ObserveStep(new StepRecord(2, 0, 0.1, 0.9, double.NaN, 0.2, 64, 0.5, 1.5, Skipped: true));
        metrics.ObserveEvaluation(new EvalRecord(2, 0, 1.5, 0.75));
        metrics.CheckpointWritten();
        var text = Scrape(endpoint);

        foreach (var name in Names)
            Assert.Contains($"# TYPE {TrainerMetrics.Prefix}{name} ", text);
        string Line(string series) => text.Split('\n').Single(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        const string labels = "{job=\"demo\",rank=\"1\"}";
        Assert.EndsWith(" 64", Line("orchestrator_trainer_samples_total" + labels)); // 2 steps x 64/2 per rank
        Assert.EndsWith(" 0.75", Line("orchestrator_trainer_step_compute_seconds_sum" + labels)); // (1 - 0.25 - 0.5) + 0.5
        Assert.EndsWith(" 1000", Line("orchestrator_trainer_allreduce_sent_bytes_total{job=\"demo\",rank=\"1\",codec=\"int8\"}"));
        Assert.EndsWith(" 3.5", Line("orchestrator_trainer_compression_ratio" + labels)); // a skipped step keeps the last ratio
        Assert.EndsWith(" 0.75", Line("orchestrator_trainer_test_accuracy" + labels));
        Assert.EndsWith(" 1", Line("orchestrator_trainer_skipped_steps_total" + labels));
        Assert.EndsWith(" 1", Line("orchestrator_trainer_checkpoints_written_total" + labels));
        Assert.EndsWith(" 2", Line("orchestrator_trainer_world_size" + labels));
    }

    [Fact]
    public void A_taken_port_falls_back_by_world_size_and_logs_the_port_chosen()
    {
        int port = FreePorts.Consecutive(5);
        using var taken = FreePorts.Occupy(port + 1); // rank 1's first choice
        var log = new List<string>();
        using var endpoint = MetricsEndpoint.TryStart(new TrainerMetrics("demo", 1, 2, "none").Registry, "127.0.0.1", port, 1, 2, log.Add, log.Add);

        Assert.NotNull(endpoint);
        Assert.Equal(port + 3, endpoint.Port); // not port + 2: that is rank 0's fallback
        Assert.Equal([$"metrics: port {port + 1} is in use; using {port + 3} instead (rank 1)", $"metrics: http://127.0.0.1:{port + 3}/metrics (rank 1)"], log);
        Assert.Contains("orchestrator_trainer_world_size", Scrape(endpoint));
    }

    [Fact]
    public void With_every_candidate_taken_it_warns_naming_the_ports_and_serves_nothing()
    {
        int port = FreePorts.Consecutive(1);
        Assert.Equal([port, port + 50, port + 100], MetricsEndpoint.Candidates(port, 0, 50));
        using var a = FreePorts.Occupy(port);
        using var b = FreePorts.Occupy(port + 50);
        using var c = FreePorts.Occupy(port + 100);
        var log = new List<string>();

        var endpoint = MetricsEndpoint.TryStart(new TrainerMetrics("demo", 0, 50, "none").Registry, "127.0.0.1", port, 0, 50, log.Add, log.Add);

        Assert.Null(endpoint);
        var warning = Assert.Single(log);
        Assert.StartsWith($"warning: metrics: could not listen on 127.0.0.1 port {port}..{port + 100} (every 50)", warning);
        Assert.EndsWith("rank 0 trains without a metrics endpoint", warning);
    }

    [Fact]
    public void A_train_run_whose_metrics_port_is_taken_still_trains_and_says_where_metrics_are()
    {
        using var dir = new TempDirectory();
        var spec = CliSpecs.Write(dir, CliSpecs.Synthetic());
        int port = FreePorts.Consecutive(2);
        using var taken = FreePorts.Occupy(port);

        var result = CliRunner.Train(dir.Path, spec, "--out", dir.File("run"), "--metrics-port", port.ToString());

        CliAssert.Success(result, "finished", $"metrics: port {port} is in use; using {port + 1} instead (rank 0)",
            $"metrics: http://127.0.0.1:{port + 1}/metrics (rank 0)");
    }

    [Fact]
    public void Metrics_port_0_serves_nothing_and_a_bad_port_is_a_user_error()
    {
        using var dir = new TempDirectory();
        var spec = CliSpecs.Write(dir, CliSpecs.Synthetic());

        var off = CliRunner.Train(dir.Path, spec, "--out", dir.File("run"), "--metrics-port", "0");
        CliAssert.Success(off, "finished");
        Assert.DoesNotContain("metrics:", off.Output);

        CliAssert.UserError(CliRunner.Train(dir.Path, spec, "--metrics-port", "70000"), "--metrics-port: must be 0 (off) or a port 1..65535, got 70000");
    }
}
