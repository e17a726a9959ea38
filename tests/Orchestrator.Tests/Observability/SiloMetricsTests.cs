using System.Net.Http;
using Orchestrator.Contracts.Models;
using Orchestrator.Silos.Hosting;
using Orchestrator.Silos.Telemetry;
using Prometheus;

namespace Orchestrator.Tests.Observability;

/// <summary>The silo's metrics: the sample computed from statuses and the scheduler's snapshot, the series written from it, the endpoint.</summary>
public sealed class SiloMetricsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

    private static JobStatus Job(string id, JobPhase phase, int workers = 2, int restarts = 0, JobTransition[]? history = null,
        HeartbeatInfo? last = null, HeartbeatInfo[]? ranks = null) =>
        new(id, phase, workers, null, restarts, 3, null, null, [.. history ?? []], last, ranks is null ? default : [.. ranks]);

    private static HeartbeatInfo Beat(int rank, long step, DateTimeOffset received, DateTimeOffset progressed) =>
        new(new WorkerHeartbeat(1, step, 1000, 0.5, 0.01, 100, rank), received, progressed);

    private static NodeStatus Node(string name, int slots, int used, bool alive) =>
        new(new NodeInfo(name, "10.0.0.1", slots, 0, ["zone=a"], "silo", "gw"), used, alive, []);

    private static SiloMetricsSample Sample()
    {
        var running = Job("train-a", JobPhase.Running, restarts: 1,
            history:
            [
                new(JobPhase.Pending, JobPhase.Pending, T0, "submitted"),
                new(JobPhase.Running, JobPhase.Rescaling, T0.AddSeconds(1), "rescale 2 -> 4 workers"),
                new(JobPhase.Launching, JobPhase.Running, T0.AddSeconds(2), null),
            ],
            last: Beat(0, 50, T0.AddSeconds(8), T0.AddSeconds(4)),
            ranks: [Beat(0, 50, T0.AddSeconds(8), T0.AddSeconds(4)), Beat(1, 50, T0.AddSeconds(9), T0.AddSeconds(4))]);
        var starting = Job("train-b", JobPhase.Running, history: [new(JobPhase.Launching, JobPhase.Running, T0.AddSeconds(7), null)]);
        var queued = Job("train-c", JobPhase.Pending, workers: 4);
        var done = Job("train-d", JobPhase.Succeeded, restarts: 2);
        var snapshot = new SchedulerSnapshot(8, 4, [new SlotGrant("train-a", 2, []), new SlotGrant("train-b", 2, [])], [new SlotGrant("train-c", 4, [])],
            [Node("m1", 4, 4, true), Node("m2", 4, 0, true), Node("m3", 8, 0, false)]);
        return SiloMetricsSample.From([running, starting, queued, done], snapshot, T0.AddSeconds(10));
    }

    [Fact]
    public void The_sample_counts_jobs_by_phase_slots_restarts_rescales_and_ages()
    {
        var sample = Sample();

        Assert.Equal(2, sample.JobsByPhase[JobPhase.Running]);
        Assert.Equal(1, sample.JobsByPhase[JobPhase.Pending]);
        Assert.Equal(1, sample.JobsByPhase[JobPhase.Succeeded]);
        Assert.Equal(0, sample.JobsByPhase[JobPhase.Failed]); // every phase is present
        Assert.Equal(Enum.GetValues<JobPhase>().Length, sample.JobsByPhase.Count);
        Assert.Equal((8, 4, 4), (sample.SlotsCapacity, sample.SlotsGranted, sample.SlotsFree));

        var a = sample.Jobs.Single(j => j.JobId == "train-a");
        Assert.Equal((1, 1), (a.Restarts, a.Rescales));
        Assert.Equal(6, a.ProgressAgeSeconds); // now - the job's last progress
        Assert.Equal(3, sample.Jobs.Single(j => j.JobId == "train-b").ProgressAgeSeconds); // no heartbeat yet: since the move to Running
        Assert.Null(sample.Jobs.Single(j => j.JobId == "train-c").ProgressAgeSeconds);
        Assert.Null(sample.Jobs.Single(j => j.JobId == "train-d").ProgressAgeSeconds);
        Assert.Equal([("train-a", 0, 2.0), ("train-a", 1, 1.0)], sample.Workers.Select(w => (w.JobId, w.Rank, w.HeartbeatAgeSeconds)));
    }

    [Fact]
    public void Without_a_scheduler_snapshot_the_slot_values_are_unknown()
    {
        var sample = SiloMetricsSample.From([], null, T0);
        Assert.Null(sample.SlotsCapacity);
        Assert.Null(sample.SlotsGranted);
        Assert.Empty(sample.Jobs);
    }

    [Fact]
    public async Task The_series_follow_the_samples_and_drop_jobs_and_ranks_that_stopped_running()
    {
        var metrics = new SiloMetrics();
        metrics.Apply(Sample());
        var text = await ExportAsync(metrics.Registry);

        string Line(string series) => text.Split('\n').Single(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        Assert.EndsWith(" 2", Line("orchestrator_silo_jobs_running"));
        Assert.EndsWith(" 0", Line("orchestrator_silo_jobs_failed"));
        Assert.EndsWith(" 8", Line("orchestrator_silo_worker_slots"));
        Assert.EndsWith(" 4", Line("orchestrator_silo_worker_slots_granted"));
        Assert.EndsWith(" 4", Line("orchestrator_silo_worker_slots_free"));
        Assert.EndsWith(" 2", Line("orchestrator_silo_job_phase{job=\"train-a\"}"));
        Assert.EndsWith(" 0", Line("orchestrator_silo_job_phase{job=\"train-c\"}"));
        Assert.EndsWith(" 1", Line("orchestrator_silo_restarts_total{job=\"train-a\"}"));
        Assert.EndsWith(" 2", Line("orchestrator_silo_restarts_total{job=\"train-d\"}"));
        Assert.EndsWith(" 1", Line("orchestrator_silo_rescales_total{job=\"train-a\"}"));
        Assert.EndsWith(" 6", Line("orchestrator_silo_job_progress_age_seconds{job=\"train-a\"}"));
        Assert.EndsWith(" 1", Line("orchestrator_silo_heartbeat_age_seconds{job=\"train-a\",rank=\"1\"}"));
        Assert.EndsWith(" 0", Line("orchestrator_silo_poll_errors_total"));
        var labels = text.Split('\n').Where(l => l.StartsWith("orchestrator_silo_", StringComparison.Ordinal))
            .SelectMany(l => System.Text.RegularExpressions.Regex.Matches(l, @"[{,](\w+)=").Select(m => m.Groups[1].Value)).ToHashSet();
        Assert.Subset(new HashSet<string> { "job", "rank", "node" }, labels); // labels job, rank and node only
        Assert.EndsWith(" 2", Line("orchestrator_silo_nodes_alive"));
        Assert.EndsWith(" 1", Line("orchestrator_silo_nodes_down"));
        Assert.EndsWith(" 4", Line("orchestrator_silo_node_worker_slots_used{node=\"m1\"}"));
        Assert.EndsWith(" 4", Line("orchestrator_silo_node_worker_slots{node=\"m2\"}"));
        Assert.EndsWith(" 0", Line("orchestrator_silo_node_worker_slots{node=\"m3\"}")); // down: no slots
        Assert.EndsWith(" 0", Line("orchestrator_silo_node_alive{node=\"m3\"}"));

        // train-a ends: its heartbeat and progress series go, its counters stay.
        var ended = SiloMetricsSample.From([Job("train-a", JobPhase.Succeeded, restarts: 1)], null, T0.AddSeconds(20));
        metrics.Apply(ended);
        metrics.PollFailed();
        text = await ExportAsync(metrics.Registry);
        Assert.DoesNotContain("orchestrator_silo_heartbeat_age_seconds{", text);
        Assert.DoesNotContain("orchestrator_silo_job_progress_age_seconds{job=\"train-a\"}", text);
        Assert.EndsWith(" 1", Line("orchestrator_silo_restarts_total{job=\"train-a\"}"));
        Assert.EndsWith(" 4", Line("orchestrator_silo_job_phase{job=\"train-a\"}"));
        Assert.EndsWith(" 8", Line("orchestrator_silo_worker_slots")); // unknown this time: the last value stays
        Assert.EndsWith(" 1", Line("orchestrator_silo_poll_errors_total"));
    }

    [Fact]
    public async Task An_embedded_silo_serves_its_metrics_and_orleans_meters_on_the_next_free_port_when_its_own_is_taken()
    {
        int port = FreePorts.Consecutive(2);
        using var taken = FreePorts.Occupy(port);
        var log = new List<string>();
        var options = new SiloMetricsOptions { Port = port, Interval = TimeSpan.FromMilliseconds(200), Log = log.Add, Warn = log.Add };
        await using (var silo = await EmbeddedSilo.StartAsync(new EmbeddedSiloOptions { WorkerSlots = 3, Metrics = options }))
        {
            Assert.Equal([$"metrics: port {port} is in use; using {port + 1} instead (silo)", $"metrics: http://127.0.0.1:{port + 1}/metrics (silo)"], log);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            var deadline = DateTime.UtcNow.AddSeconds(20);
            string text;
            do
            {
                await Task.Delay(200);
                text = await http.GetStringAsync($"http://127.0.0.1:{port + 1}/metrics");
            }
            while (!(text.Contains("orchestrator_silo_worker_slots 3") && text.Contains("microsoft_orleans_")) && DateTime.UtcNow < deadline);
            Assert.Contains("orchestrator_silo_worker_slots 3", text);
            Assert.Contains("orchestrator_silo_worker_slots_free 3", text);
            Assert.Contains("microsoft_orleans_", text); // Orleans' own meters
            Assert.Contains("orchestrator_silo_poll_errors_total 0", text);
        }
        using var stopped = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        await Assert.ThrowsAnyAsync<Exception>(() => stopped.GetStringAsync($"http://127.0.0.1:{port + 1}/metrics")); // disposed with the silo
    }

    private static async Task<string> ExportAsync(CollectorRegistry registry)
    {
        using var stream = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(stream);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }
}
