using System.Collections.Immutable;
using Orchestrator.Contracts.Models;

namespace Orchestrator.Silos.Telemetry;

/// <summary>One job's control-plane figures (see <see cref="SiloMetricsSample"/>).</summary>
/// <param name="JobId">The job's name (the <c>job</c> label).</param>
/// <param name="Phase">Its lifecycle phase.</param>
/// <param name="Workers">Worker count of the current (or next) launch.</param>
/// <param name="Restarts">Restarts after failures so far.</param>
/// <param name="Rescales">Rescales requested so far (transitions into Rescaling).</param>
/// <param name="ProgressAgeSeconds">Running jobs: seconds since any rank's step count last went up (since the move to Running
/// before the first heartbeat); null otherwise (the series is dropped).</param>
public sealed record JobSample(string JobId, JobPhase Phase, int Workers, int Restarts, int Rescales, double? ProgressAgeSeconds);

/// <summary>One rank's heartbeat age (see <see cref="SiloMetricsSample"/>).</summary>
public sealed record WorkerSample(string JobId, int Rank, double HeartbeatAgeSeconds);

/// <summary>One node's slots (see <see cref="SiloMetricsSample"/>).</summary>
public sealed record NodeSample(string Node, int Slots, int Used, bool Alive);

/// <summary>
/// What the silo's metrics show at one moment, computed from the job grains' statuses and the scheduler's snapshot
/// (pure: <see cref="From"/>), then written into the Prometheus series by <see cref="SiloMetrics.Apply"/>.
/// </summary>
/// <param name="JobsByPhase">Jobs in each phase (every phase present, 0 when none).</param>
/// <param name="SlotsCapacity">Worker slots in total; null when the scheduler did not answer.</param>
/// <param name="SlotsGranted">Slots held by admitted gangs; null when the scheduler did not answer.</param>
/// <param name="SlotsFree">Slots not granted; null when the scheduler did not answer.</param>
/// <param name="Jobs">Every known job.</param>
/// <param name="Workers">The newest heartbeat age of every rank of every running job.</param>
/// <param name="Nodes">Every registered node; null when the scheduler did not answer (empty: no node registered).</param>
public sealed record SiloMetricsSample(
    ImmutableDictionary<JobPhase, int> JobsByPhase,
    int? SlotsCapacity,
    int? SlotsGranted,
    int? SlotsFree,
    ImmutableArray<JobSample> Jobs,
    ImmutableArray<WorkerSample> Workers,
    ImmutableArray<NodeSample>? Nodes = null)
{
    /// <summary>The sample for these statuses and this scheduler snapshot (null when it could not be read) at <paramref name="now"/>.</summary>
    public static SiloMetricsSample From(IReadOnlyCollection<JobStatus> jobs, SchedulerSnapshot? scheduler, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        var byPhase = Enum.GetValues<JobPhase>().ToDictionary(p => p, p => jobs.Count(j => j.Phase == p));
        var jobSamples = jobs.Select(j => new JobSample(j.JobId, j.Phase, j.Workers, j.Restarts,
            j.History.Count(t => t.To == JobPhase.Rescaling && t.From != JobPhase.Rescaling), ProgressAge(j, now))).ToImmutableArray();
        var workers = jobs.Where(j => j.Phase == JobPhase.Running)
            .SelectMany(j => (j.WorkerHeartbeats.IsDefault ? [] : j.WorkerHeartbeats).Select(h => new WorkerSample(j.JobId, h.Heartbeat.Rank, Seconds(now - h.ReceivedAt))))
            .ToImmutableArray();
        int? granted = scheduler?.Running.Sum(g => g.Workers);
        ImmutableArray<NodeSample>? nodes = scheduler is null ? null
            : [.. (scheduler.Nodes.IsDefault ? [] : scheduler.Nodes).Select(n => new NodeSample(n.Node.Name, n.Node.Slots, n.Used, n.Alive))];
        return new SiloMetricsSample(byPhase.ToImmutableDictionary(), scheduler?.Capacity, granted, scheduler?.FreeSlots, jobSamples, workers, nodes);
    }

    private static double? ProgressAge(JobStatus job, DateTimeOffset now)
    {
        if (job.Phase != JobPhase.Running) return null;
        if (job.LastHeartbeat is { } beat) return Seconds(now - beat.LastProgressAt);
        var running = job.History.LastOrDefault(t => t.To == JobPhase.Running);
        return running is null ? 0 : Seconds(now - running.At);
    }

    private static double Seconds(TimeSpan span) => Math.Max(0, span.TotalSeconds);
}
