using Orchestrator.Contracts.Models;

namespace Orchestrator.Scheduler.Lifecycle;

/// <summary>
/// How far the current gang got, as the stall rule needs it: when it was launched (or adopted) and when its step
/// count last went up. Pure value; <see cref="ProgressTracker"/> keeps it up to date from heartbeats.
/// </summary>
/// <param name="LaunchedAt">When the gang was started or adopted (the stall clock's start until the first heartbeat).</param>
/// <param name="LastProgressAt">When any rank's step count last went up in this launch; null before the first heartbeat.</param>
/// <param name="BusyWith">The earliest evaluation or checkpoint under way on a rank; null when every rank trains.</param>
/// <param name="TrainingSince">When the last rank went back to training after an evaluation or checkpoint: no step can
/// come before every rank is back, so the step clock runs from then if that is later than the last progress.</param>
public sealed record GangProgress(DateTimeOffset LaunchedAt, DateTimeOffset? LastProgressAt, Busy? BusyWith = null, DateTimeOffset? TrainingSince = null)
{
    /// <summary>Before the first heartbeat of a launch the stall clock allows at least this long (process start, data load).</summary>
    public static readonly TimeSpan StartupGrace = TimeSpan.FromSeconds(60);

    /// <summary>An evaluation or a checkpoint may take this many stall timeouts (at least <see cref="MinimumBusyLimit"/>).</summary>
    public const int BusyLimitFactor = 10;

    /// <summary>The least time an evaluation or a checkpoint is allowed, however short the stall timeout.</summary>
    public static readonly TimeSpan MinimumBusyLimit = TimeSpan.FromMinutes(10);

    /// <summary>How long a rank may evaluate or checkpoint without a step under <paramref name="stall"/>: its own limit, not the step one.</summary>
    public static TimeSpan BusyLimit(TimeSpan stall)
    {
        var limit = stall * BusyLimitFactor;
        return limit > MinimumBusyLimit ? limit : MinimumBusyLimit;
    }

    /// <summary>When a gang without further progress counts as stalled under <paramref name="stall"/>: the step deadline, pushed
    /// out to the end of the busy limit while a rank evaluates or checkpoints.</summary>
    public DateTimeOffset Deadline(TimeSpan stall)
    {
        var steps = StepClock is { } progress ? progress + stall : LaunchedAt + (stall > StartupGrace ? stall : StartupGrace);
        if (BusyWith is not { } busy) return steps;
        var busyEnd = busy.Since + BusyLimit(stall);
        return busyEnd > steps ? busyEnd : steps;
    }

    /// <summary>Why the gang counts as stalled at its deadline: steps, or an evaluation or checkpoint over its limit.</summary>
    public string StallCause(TimeSpan stall) => BusyWith is { } busy && busy.Since + BusyLimit(stall) >= (StepClock ?? LaunchedAt) + stall
        ? $"stalled: {busy.Activity.ToString().ToLowerInvariant()} for more than {BusyLimit(stall).TotalSeconds:0.##} s"
        : $"stalled: no step progress for {stall.TotalSeconds:0.##} s";

    /// <summary>Where the step clock starts: the last progress, or the return to training after it when that is later.</summary>
    private DateTimeOffset? StepClock =>
        LastProgressAt is { } progress && TrainingSince is { } back && back > progress ? back : LastProgressAt;

    /// <summary>How often a gang is watched: a quarter of the stall timeout, between 0.25 s and 1 s (1 s without one).</summary>
    public static TimeSpan WatchPeriod(TimeSpan? stall) =>
        stall is { } s ? TimeSpan.FromSeconds(Math.Clamp(s.TotalSeconds / 4, 0.25, 1)) : TimeSpan.FromSeconds(1);
}

/// <summary>A rank of the gang has been evaluating or checkpointing since <paramref name="Since"/>.</summary>
public sealed record Busy(WorkerActivity Activity, DateTimeOffset Since);
