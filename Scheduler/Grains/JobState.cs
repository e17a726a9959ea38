using Orchestrator.Contracts.Models;
using Orchestrator.Spec;

namespace Orchestrator.Scheduler.Grains;

/// <summary>The persisted state of one <see cref="JobGrain"/>.</summary>
[GenerateSerializer, Alias("orchestrator.JobState.v1")]
public sealed class JobState
{
    /// <summary>False until the job is submitted (a fresh activation of an unknown name).</summary>
    [Id(0)] public bool Submitted { get; set; }
    /// <summary>The spec as YAML text, for the launcher.</summary>
    [Id(1)] public string SpecYaml { get; set; } = "";
    /// <summary>Current phase.</summary>
    [Id(2)] public JobPhase Phase { get; set; }
    /// <summary>Worker count of the current (or next) launch.</summary>
    [Id(3)] public int Workers { get; set; }
    /// <summary>Worker count a pending rescale will launch with.</summary>
    [Id(4)] public int? RequestedWorkers { get; set; }
    /// <summary>Restarts after failures so far.</summary>
    [Id(5)] public int Restarts { get; set; }
    /// <summary>Restart policy: maximum restarts.</summary>
    [Id(6)] public int MaxRestarts { get; set; }
    /// <summary>Restart policy: backoff before restart 1.</summary>
    [Id(7)] public TimeSpan RestartBaseDelay { get; set; }
    /// <summary>Restart policy: backoff cap.</summary>
    [Id(8)] public TimeSpan RestartMaxDelay { get; set; }
    /// <summary>Earliest time a pending restart may launch.</summary>
    [Id(9)] public DateTimeOffset? NextLaunchNotBefore { get; set; }
    /// <summary>Why the job failed, or why it last restarted.</summary>
    [Id(10)] public string? FailureReason { get; set; }
    /// <summary>Every phase change, oldest first.</summary>
    [Id(11)] public List<JobTransition> History { get; set; } = [];
    /// <summary>The job's run directory; null = the silo's default.</summary>
    [Id(12)] public string? OutputDirectory { get; set; }
    /// <summary>No step progress for this long while Running counts as a failure; null = no stall detection.</summary>
    [Id(13)] public TimeSpan? StallTimeout { get; set; }
    /// <summary>Extra <c>train</c> arguments of launch 1 only (test hooks).</summary>
    [Id(14)] public string[] FirstLaunchArguments { get; set; } = [];
    /// <summary>Gangs started so far (the current launch's number; workers report it in heartbeats).</summary>
    [Id(15)] public int Launches { get; set; }
    /// <summary>Which worker counts a rescale may choose; null = any.</summary>
    [Id(16)] public WorkerCountRule? WorkerRule { get; set; }
    /// <summary>Rescales completed or under way.</summary>
    [Id(17)] public int Rescales { get; set; }

    /// <summary>Exit code and error lines of the last launch that failed before its first step (null when the last one trained):
    /// the same failure twice in a row fails the job instead of restarting it.</summary>
    [Id(18)] public string? EarlyFailure { get; set; }

    /// <summary>How the gang's ranks spread over nodes; null = defaults.</summary>
    [Id(19)] public PlacementSpec? Placement { get; set; }

    /// <summary>The node whose silo started the current gang (its supervisor and mpiexec run there); null = no node (one machine).</summary>
    [Id(20)] public string? LaunchNode { get; set; }

    /// <summary>The fewest workers a node loss may shrink the gang to; null = a node loss never shrinks it.</summary>
    [Id(21)] public int? ShrinkFloor { get; set; }

    /// <summary>A copy to decide on (<see cref="Lifecycle.JobLifecycle"/>): the original stays as stored until the decision is persisted.</summary>
    public JobState Copy()
    {
        var copy = (JobState)MemberwiseClone();
        copy.History = [.. History];
        return copy;
    }
}
