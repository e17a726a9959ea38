using Orchestrator.Spec;

namespace Orchestrator.Contracts.Models;

/// <summary>
/// What a client hands a job grain to create a job. The spec travels as its YAML text (the
/// <see cref="JobSpec"/> records carry no Orleans serializers); the fields the control plane
/// decides on are passed parsed next to it, so grains never re-read YAML.
/// </summary>
/// <param name="SpecYaml">The validated spec, as YAML text (kept for the launcher and for <c>status</c>).</param>
/// <param name="Workers">Worker processes (gang size) to start with; at least 1.</param>
/// <param name="MaxRestarts">Restarts allowed after a worker failure before the job is Failed; 0 = none.</param>
/// <param name="RestartBaseDelay">Backoff before restart 1; doubled for each later restart.</param>
/// <param name="RestartMaxDelay">Upper bound of the backoff.</param>
/// <param name="OutputDirectory">Absolute run directory of the job (metrics, summary, checkpoints, logs); null = the
/// silo's default <c>runs/&lt;job&gt;</c>. Every relaunch uses the same one, so training resumes from its checkpoints.</param>
/// <param name="StallTimeout">A Running job whose step count does not go up for this long is torn down and restarted
/// like a failed one; null = no stall detection.</param>
/// <param name="FirstLaunchArguments">Extra <c>train</c> arguments for the first launch only (test hooks such as
/// <c>--die-at</c>); relaunches run without them.</param>
/// <param name="WorkerRule">Which worker counts the job may be rescaled to (from its spec); null = any count.</param>
/// <param name="Placement">How the gang's ranks spread over the cluster's nodes (from its spec); null = defaults.</param>
/// <param name="ShrinkFloor">When a node of the gang is lost and the live nodes cannot hold the whole gang, it restarts with as
/// many workers as they hold (counts <paramref name="WorkerRule"/> accepts), down to this many; null = it waits for capacity
/// at its size (<c>scaling.on_node_loss</c>).</param>
[GenerateSerializer, Immutable, Alias("orchestrator.JobSubmission.v1")]
public sealed record JobSubmission(
    string SpecYaml,
    int Workers,
    int MaxRestarts,
    TimeSpan RestartBaseDelay,
    TimeSpan RestartMaxDelay,
    string? OutputDirectory = null,
    TimeSpan? StallTimeout = null,
    string[]? FirstLaunchArguments = null,
    WorkerCountRule? WorkerRule = null,
    PlacementSpec? Placement = null,
    int? ShrinkFloor = null)
{
    /// <summary>A submission with the default restart policy (3 restarts, 1 s doubling up to 60 s).</summary>
    public static JobSubmission WithDefaults(string specYaml, int workers) =>
        new(specYaml, workers, 3, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));

    /// <summary>A submission of <paramref name="spec"/> with its <c>fault</c> section as restart policy and stall timeout, and its
    /// batch rules as the rescale rule.</summary>
    public static JobSubmission ForSpec(JobSpec spec, string specYaml)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var fault = spec.FaultOrDefault;
        var backoff = TimeSpan.FromSeconds(fault.RestartBackoffSeconds);
        var cap = TimeSpan.FromSeconds(60) > backoff ? TimeSpan.FromSeconds(60) : backoff;
        return new(specYaml, spec.Workers, fault.MaxRestarts, backoff, cap, StallTimeout: TimeSpan.FromSeconds(fault.StallSeconds),
            WorkerRule: WorkerCountRule.Of(spec), Placement: spec.Placement, ShrinkFloor: spec.ScalingOrDefault.ShrinkFloor);
    }
}
