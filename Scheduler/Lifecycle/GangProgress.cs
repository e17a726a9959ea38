namespace Orchestrator.Scheduler.Lifecycle;

/// <summary>
/// How far the current gang got, as the stall rule needs it: when it was launched (or adopted) and when its step
/// count last went up. Pure value; <see cref="ProgressTracker"/> keeps it up to date from heartbeats.
/// </summary>
/// <param name="LaunchedAt">When the gang was started or adopted (the stall clock's start until the first heartbeat).</param>
/// <param name="LastProgressAt">When any rank's step count last went up in this launch; null before the first heartbeat.</param>
public sealed record GangProgress(DateTimeOffset LaunchedAt, DateTimeOffset? LastProgressAt)
{
    /// <summary>Before the first heartbeat of a launch the stall clock allows at least this long (process start, data load).</summary>
    public static readonly TimeSpan StartupGrace = TimeSpan.FromSeconds(60);

    /// <summary>When a gang without further progress counts as stalled under <paramref name="stall"/>.</summary>
    public DateTimeOffset Deadline(TimeSpan stall) =>
        LastProgressAt is { } progress ? progress + stall : LaunchedAt + (stall > StartupGrace ? stall : StartupGrace);

    /// <summary>How often a gang is watched: a quarter of the stall timeout, between 0.25 s and 1 s (1 s without one).</summary>
    public static TimeSpan WatchPeriod(TimeSpan? stall) =>
        stall is { } s ? TimeSpan.FromSeconds(Math.Clamp(s.TotalSeconds / 4, 0.25, 1)) : TimeSpan.FromSeconds(1);
}
