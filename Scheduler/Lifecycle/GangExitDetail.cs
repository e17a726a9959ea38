namespace Orchestrator.Scheduler.Lifecycle;

/// <summary>What is known about a gang that ended, besides its exit code.</summary>
/// <param name="Advanced">Whether the gang completed a training step in this launch (a heartbeat's step went up).</param>
/// <param name="Errors">The workers' own last error lines from the launcher log (one line, shortened), or null.</param>
public sealed record GangExitDetail(bool Advanced, string? Errors)
{
    /// <summary>Nothing known (an exit reported without its log or progress): treated as a gang that trained.</summary>
    public static GangExitDetail Unknown { get; } = new(true, null);
}
