namespace Orchestrator.Scheduler.Lifecycle;

/// <summary>What the job grain must carry out for a decision, in order. A closed set of records.</summary>
public abstract record JobEffect
{
    private JobEffect() { }

    /// <summary>Write the decided state (before any later effect: every transition is stored before its side effect).</summary>
    public sealed record Persist : JobEffect;

    /// <summary>Add the job to the registry <c>status</c> lists.</summary>
    public sealed record Register : JobEffect;

    /// <summary>Ask the scheduler for the gang's <paramref name="Workers"/> slots (granted, queued or refused).</summary>
    public sealed record RequestSlots(int Workers) : JobEffect;

    /// <summary>Resize the job's slots to <paramref name="Workers"/> (a rescale; refused when a growth does not fit, before anything is stored).</summary>
    public sealed record ResizeSlots(int Workers) : JobEffect;

    /// <summary>Give the job's slots back (and start the queued jobs that now fit).</summary>
    public sealed record ReleaseSlots : JobEffect;

    /// <summary>Start launch <paramref name="Launch"/> with <paramref name="Workers"/> workers and <paramref name="ExtraArguments"/>.</summary>
    public sealed record StartGang(int Launch, int Workers, IReadOnlyList<string> ExtraArguments) : JobEffect;

    /// <summary>Kill the gang of launch <paramref name="Launch"/> (its process group, or an adopted gang through its supervisor).</summary>
    public sealed record KillGang(int Launch) : JobEffect;

    /// <summary>Start watching the current gang (stall clock from now); <paramref name="Adopted"/>: started by another silo.</summary>
    public sealed record WatchGang(bool Adopted) : JobEffect;

    /// <summary>Stop watching (the gang ended, was killed, or is being replaced).</summary>
    public sealed record StopWatch : JobEffect;

    /// <summary>Make sure the reminder that reactivates an unfinished job after its silo died is registered.</summary>
    public sealed record EnsureReminder : JobEffect;

    /// <summary>Relaunch at <paramref name="At"/>; <paramref name="KillStrayLaunch"/>: a gang of that launch number may have been
    /// started by a silo that died before it recorded Running, so kill it first.</summary>
    public sealed record ScheduleRelaunch(DateTimeOffset At, int? KillStrayLaunch = null) : JobEffect;
}
