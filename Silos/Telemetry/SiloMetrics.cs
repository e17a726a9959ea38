using System.Globalization;
using Orchestrator.Contracts.Models;
using Prometheus;

namespace Orchestrator.Silos.Telemetry;

/// <summary>
/// The silo's Prometheus metrics, in a registry of their own (tests run several silos in one process). One prefix
/// (<see cref="Prefix"/>), base units, <c>_total</c> counters, labels <c>job</c>, <c>rank</c> and <c>node</c> only: jobs by state
/// are one label-free gauge per phase (<c>orchestrator_silo_jobs_running</c>, ...), a job's own phase is the code of
/// <see cref="JobPhase"/> in <c>orchestrator_silo_job_phase</c>. Values come from <see cref="Apply"/>; the series of a
/// job or rank that is no longer there (heartbeats and progress age of a job that stopped running) are removed.
/// </summary>
public sealed class SiloMetrics
{
    /// <summary>Prefix of every silo metric name.</summary>
    public const string Prefix = "orchestrator_silo_";

    private static readonly string[] JobLabel = ["job"];
    private static readonly string[] JobRank = ["job", "rank"];
    private static readonly string[] NodeLabel = ["node"];

    private readonly Dictionary<JobPhase, Gauge> jobsByPhase;
    private readonly Gauge slots;
    private readonly Gauge slotsGranted;
    private readonly Gauge slotsFree;
    private readonly Gauge jobPhase;
    private readonly Gauge jobWorkers;
    private readonly Counter restarts;
    private readonly Counter rescales;
    private readonly Gauge progressAge;
    private readonly Gauge heartbeatAge;
    private readonly Counter pollErrors;
    private readonly Gauge nodesAlive;
    private readonly Gauge nodesDown;
    private readonly Gauge nodeSlots;
    private readonly Gauge nodeSlotsUsed;
    private readonly Gauge nodeAlive;
    private readonly HashSet<string> nodes = [];
    private readonly HashSet<string> progressJobs = [];
    private readonly HashSet<(string Job, string Rank)> heartbeatWorkers = [];

    /// <summary>Creates every series (label-free ones at 0, so a dashboard panel has data from the first scrape).</summary>
    public SiloMetrics()
    {
        var factory = Metrics.WithCustomRegistry(Registry);
        jobsByPhase = Enum.GetValues<JobPhase>().ToDictionary(p => p, p => factory.CreateGauge(
            PhaseMetricName(p), $"Jobs known to the cluster that are {p.ToString().ToLowerInvariant()}."));
        slots = factory.CreateGauge(Prefix + "worker_slots", "Worker slots the scheduler admits gangs against.");
        slotsGranted = factory.CreateGauge(Prefix + "worker_slots_granted", "Worker slots held by admitted gangs.");
        slotsFree = factory.CreateGauge(Prefix + "worker_slots_free", "Worker slots not granted to any gang.");
        jobPhase = factory.CreateGauge(Prefix + "job_phase",
            "The job's phase: 0 pending, 1 launching, 2 running, 3 rescaling, 4 succeeded, 5 failed, 6 cancelled.",
            new GaugeConfiguration { LabelNames = JobLabel });
        jobWorkers = factory.CreateGauge(Prefix + "job_workers", "Worker count of the job's current (or next) launch.",
            new GaugeConfiguration { LabelNames = JobLabel });
        restarts = factory.CreateCounter(Prefix + "restarts_total", "Restarts of the job after a dead or stalled worker.",
            new CounterConfiguration { LabelNames = JobLabel });
        rescales = factory.CreateCounter(Prefix + "rescales_total", "Rescales of the job to another worker count.",
            new CounterConfiguration { LabelNames = JobLabel });
        progressAge = factory.CreateGauge(Prefix + "job_progress_age_seconds",
            "Running jobs: seconds since any rank's step count last went up (the stall indicator; the job restarts at fault.stall_seconds).",
            new GaugeConfiguration { LabelNames = JobLabel });
        heartbeatAge = factory.CreateGauge(Prefix + "heartbeat_age_seconds", "Running jobs: seconds since each rank's newest heartbeat.",
            new GaugeConfiguration { LabelNames = JobRank });
        pollErrors = factory.CreateCounter(Prefix + "poll_errors_total", "Polls of the grains for these metrics that failed or timed out.");
        nodesAlive = factory.CreateGauge(Prefix + "nodes_alive", "Registered nodes whose silo is an active cluster member.");
        nodesDown = factory.CreateGauge(Prefix + "nodes_down", "Registered nodes whose silo left the cluster (they get no ranks).");
        nodeSlots = factory.CreateGauge(Prefix + "node_worker_slots", "Worker slots the node offers (0 while it is down).",
            new GaugeConfiguration { LabelNames = NodeLabel });
        nodeSlotsUsed = factory.CreateGauge(Prefix + "node_worker_slots_used", "Worker slots of the node held by running gangs.",
            new GaugeConfiguration { LabelNames = NodeLabel });
        nodeAlive = factory.CreateGauge(Prefix + "node_alive", "1 while the node's silo is an active cluster member, 0 when it is down.",
            new GaugeConfiguration { LabelNames = NodeLabel });
    }

    /// <summary>The registry holding the silo's metrics (what its <c>/metrics</c> endpoint serves, with Orleans' own meters).</summary>
    public CollectorRegistry Registry { get; } = Metrics.NewCustomRegistry();

    /// <summary>The name of the label-free gauge counting the jobs in <paramref name="phase"/>.</summary>
    public static string PhaseMetricName(JobPhase phase) => $"{Prefix}jobs_{phase.ToString().ToLowerInvariant()}";

    /// <summary>Counts one failed poll (the previous values stay).</summary>
    public void PollFailed() => pollErrors.Inc();

    /// <summary>Writes <paramref name="sample"/> into the series.</summary>
    public void Apply(SiloMetricsSample sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        foreach (var (phase, gauge) in jobsByPhase)
            gauge.Set(sample.JobsByPhase.GetValueOrDefault(phase));
        if (sample.SlotsCapacity is { } capacity) slots.Set(capacity);
        if (sample.SlotsGranted is { } granted) slotsGranted.Set(granted);
        if (sample.SlotsFree is { } free) slotsFree.Set(free);

        var progressing = new HashSet<string>();
        foreach (var job in sample.Jobs)
        {
            jobPhase.WithLabels(job.JobId).Set((int)job.Phase);
            jobWorkers.WithLabels(job.JobId).Set(job.Workers);
            restarts.WithLabels(job.JobId).IncTo(job.Restarts);
            rescales.WithLabels(job.JobId).IncTo(job.Rescales);
            if (job.ProgressAgeSeconds is { } age)
            {
                progressAge.WithLabels(job.JobId).Set(age);
                progressing.Add(job.JobId);
            }
        }
        foreach (var gone in progressJobs.Except(progressing)) progressAge.RemoveLabelled(gone);
        progressJobs.Clear();
        progressJobs.UnionWith(progressing);

        var beating = new HashSet<(string, string)>();
        foreach (var worker in sample.Workers)
        {
            var key = (worker.JobId, worker.Rank.ToString(CultureInfo.InvariantCulture));
            heartbeatAge.WithLabels(key.JobId, key.Item2).Set(worker.HeartbeatAgeSeconds);
            beating.Add(key);
        }
        foreach (var (job, rank) in heartbeatWorkers.Except(beating)) heartbeatAge.RemoveLabelled(job, rank);
        heartbeatWorkers.Clear();
        heartbeatWorkers.UnionWith(beating);
        if (sample.Nodes is { } current) ApplyNodes(current);
    }

    private void ApplyNodes(IReadOnlyCollection<NodeSample> current)
    {
        nodesAlive.Set(current.Count(n => n.Alive));
        nodesDown.Set(current.Count(n => !n.Alive));
        foreach (var node in current)
        {
            nodeSlots.WithLabels(node.Node).Set(node.Alive ? node.Slots : 0);
            nodeSlotsUsed.WithLabels(node.Node).Set(node.Used);
            nodeAlive.WithLabels(node.Node).Set(node.Alive ? 1 : 0);
        }
        foreach (var gone in nodes.Except(current.Select(n => n.Node)))
        {
            nodeSlots.RemoveLabelled(gone);
            nodeSlotsUsed.RemoveLabelled(gone);
            nodeAlive.RemoveLabelled(gone);
        }
        nodes.Clear();
        nodes.UnionWith(current.Select(n => n.Node));
    }
}
