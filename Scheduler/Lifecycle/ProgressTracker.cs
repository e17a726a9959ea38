using System.Collections.Immutable;
using Orchestrator.Contracts.Models;

namespace Orchestrator.Scheduler.Lifecycle;

/// <summary>
/// Step progress of a job's current launch from its ranks' heartbeats, in memory (a heartbeat a second is not worth a
/// write). The one home of the progress rules: the job progresses when any rank reports a step above the highest seen
/// in this launch; a rank progresses when its own step goes up, and a relaunched gang starts its own clock. Pure: the
/// time is passed in.
/// </summary>
public sealed class ProgressTracker
{
    private readonly Dictionary<int, HeartbeatInfo> ranks = [];
    private readonly Dictionary<int, (int Launch, DateTimeOffset At)> resumed = [];

    /// <summary>The job's newest heartbeat at its highest step in this launch; null before the first.</summary>
    public HeartbeatInfo? Newest { get; private set; }

    /// <summary>Whether a heartbeat of the current gang reported a higher step than its first one: it has trained.</summary>
    public bool Advanced { get; private set; }

    private long? firstStep;

    /// <summary>When the current gang was started or adopted.</summary>
    public DateTimeOffset LaunchedAt { get; private set; }

    /// <summary>What the stall rule needs.</summary>
    public GangProgress Progress => new(LaunchedAt, Newest?.LastProgressAt, BusyWith(), TrainingSince());

    /// <summary>The earliest evaluation or checkpoint under way on a rank of the newest launch, from its ranks' newest heartbeats.</summary>
    private Busy? BusyWith()
    {
        if (Newest is null) return null;
        int launch = Newest.Heartbeat.Launch;
        return ranks.Values
            .Where(r => r.Heartbeat.Launch == launch && r.Heartbeat.Activity != WorkerActivity.Training)
            .Select(r => new Busy(r.Heartbeat.Activity, r.ReceivedAt - TimeSpan.FromSeconds(Math.Max(0, r.Heartbeat.ActivitySeconds))))
            .OrderBy(b => b.Since)
            .FirstOrDefault();
    }

    /// <summary>When the last rank of the newest launch seen evaluating or checkpointing went back to training.</summary>
    private DateTimeOffset? TrainingSince()
    {
        if (Newest is null) return null;
        int launch = Newest.Heartbeat.Launch;
        return resumed.Where(r => r.Value.Launch == launch).Select(r => (DateTimeOffset?)r.Value.At).Max();
    }

    /// <summary>A new gang (or a gang adopted after failover): the stall clock starts at <paramref name="now"/>.</summary>
    public void Restart(DateTimeOffset now)
    {
        Newest = null;
        resumed.Clear();
        LaunchedAt = now;
        Advanced = false;
        firstStep = null;
    }

    /// <summary>Takes a heartbeat of the current launch.</summary>
    public void Record(WorkerHeartbeat heartbeat, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(heartbeat);
        firstStep ??= heartbeat.Step;
        Advanced |= heartbeat.Step > firstStep;
        // Ranks that lag a step do not count as progress twice; the newest heartbeat is the newest at the highest step.
        var progressed = Newest is null || heartbeat.Step > Newest.Heartbeat.Step;
        if (progressed || heartbeat.Step == Newest!.Heartbeat.Step)
            Newest = new HeartbeatInfo(heartbeat, now, progressed ? now : Newest!.LastProgressAt);
        var previous = ranks.GetValueOrDefault(heartbeat.Rank);
        // Seen busy, now training: the rank went back when its activity changed (measured on the rank).
        if (previous is not null && previous.Heartbeat.Launch == heartbeat.Launch && previous.Heartbeat.Activity != WorkerActivity.Training
            && heartbeat.Activity == WorkerActivity.Training)
            resumed[heartbeat.Rank] = (heartbeat.Launch, now - TimeSpan.FromSeconds(Math.Max(0, heartbeat.ActivitySeconds)));
        ranks[heartbeat.Rank] = ForRank(previous, heartbeat, now);
    }

    /// <summary>The newest heartbeat of each rank of launch <paramref name="launch"/> with <paramref name="workers"/> ranks, by rank.</summary>
    public ImmutableArray<HeartbeatInfo> Ranks(int launch, int workers) =>
        [.. ranks.Where(r => r.Value.Heartbeat.Launch == launch && r.Key < workers).OrderBy(r => r.Key).Select(r => r.Value)];

    /// <summary>One rank's newest heartbeat after <paramref name="heartbeat"/>: progress counts per launch.</summary>
    public static HeartbeatInfo ForRank(HeartbeatInfo? previous, WorkerHeartbeat heartbeat, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(heartbeat);
        bool progressed = previous is null || previous.Heartbeat.Launch != heartbeat.Launch || heartbeat.Step > previous.Heartbeat.Step;
        return new HeartbeatInfo(heartbeat, now, progressed ? now : previous!.LastProgressAt);
    }
}
