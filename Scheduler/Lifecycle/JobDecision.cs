using Orchestrator.Scheduler.Grains;

namespace Orchestrator.Scheduler.Lifecycle;

/// <summary>The outcome of one event: the job's new state and what to carry out, in order (state changes take effect
/// only through <see cref="JobEffect.Persist"/>).</summary>
public sealed record JobDecision(JobState State, IReadOnlyList<JobEffect> Effects)
{
    /// <summary>Whether the decision changes anything at all.</summary>
    public bool IsNothing => Effects.Count == 0;
}
