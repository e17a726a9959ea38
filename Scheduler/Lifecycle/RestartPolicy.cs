namespace Orchestrator.Scheduler.Lifecycle;

/// <summary>
/// How often and how soon a failed job is restarted: at most <see cref="MaxRestarts"/> restarts,
/// restart n (1-based) waiting <c>BaseDelay * 2^(n-1)</c>, capped at <see cref="MaxDelay"/>. Pure logic.
/// </summary>
public sealed record RestartPolicy
{
    /// <summary>Validates and builds a policy.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative restarts or delays, or a cap below the base delay.</exception>
    public RestartPolicy(int maxRestarts, TimeSpan baseDelay, TimeSpan maxDelay)
    {
        if (maxRestarts < 0)
            throw new ArgumentOutOfRangeException(nameof(maxRestarts), maxRestarts, "max restarts must be 0 or more");
        if (baseDelay < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(baseDelay), baseDelay, "restart delay must not be negative");
        if (maxDelay < baseDelay)
            throw new ArgumentOutOfRangeException(nameof(maxDelay), maxDelay, $"maximum restart delay must be at least the base delay {baseDelay}");
        MaxRestarts = maxRestarts;
        BaseDelay = baseDelay;
        MaxDelay = maxDelay;
    }

    /// <summary>3 restarts, 1 s doubling up to 60 s.</summary>
    public static RestartPolicy Default { get; } = new(3, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));

    /// <summary>Restarts allowed after failures; 0 = the first failure is final.</summary>
    public int MaxRestarts { get; }

    /// <summary>Wait before restart 1.</summary>
    public TimeSpan BaseDelay { get; }

    /// <summary>Upper bound on any wait.</summary>
    public TimeSpan MaxDelay { get; }

    /// <summary>Whether a job that has already restarted <paramref name="restartsSoFar"/> times may restart again.</summary>
    public bool CanRestart(int restartsSoFar) => restartsSoFar < MaxRestarts;

    /// <summary>Wait before restart number <paramref name="attempt"/> (1-based).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Attempt below 1.</exception>
    public TimeSpan Delay(int attempt)
    {
        if (attempt < 1)
            throw new ArgumentOutOfRangeException(nameof(attempt), attempt, "restart attempts count from 1");
        var ticks = BaseDelay.Ticks * Math.Pow(2, attempt - 1);
        return ticks >= MaxDelay.Ticks ? MaxDelay : TimeSpan.FromTicks((long)ticks);
    }
}
