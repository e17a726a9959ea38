using Orchestrator.Spec;

namespace Orchestrator.Contracts.Models;

/// <summary>
/// The wire and storage form of <see cref="WorkerCountRule"/>: the rule itself lives with the spec (no Orleans there),
/// so it crosses the control plane (in <see cref="JobSubmission"/>, and in the job grain's persisted state) through
/// this surrogate.
/// </summary>
[GenerateSerializer, Immutable, Alias("orchestrator.WorkerCountRule.v1")]
public readonly record struct WorkerCountRuleSurrogate(
    [property: Id(0)] int GlobalBatch,
    [property: Id(1)] int GhostBatch,
    [property: Id(2)] int SpecWorkers,
    [property: Id(3)] bool KeepWorkerBatch,
    [property: Id(4)] bool PlanNeedsSpecWorkers,
    [property: Id(5)] int MicroBatch);

/// <summary>Converts <see cref="WorkerCountRule"/> to and from its surrogate.</summary>
[RegisterConverter]
public sealed class WorkerCountRuleConverter : IConverter<WorkerCountRule, WorkerCountRuleSurrogate>
{
    /// <inheritdoc/>
    public WorkerCountRule ConvertFromSurrogate(in WorkerCountRuleSurrogate surrogate) =>
        new(surrogate.GlobalBatch, surrogate.GhostBatch, surrogate.SpecWorkers, surrogate.KeepWorkerBatch, surrogate.PlanNeedsSpecWorkers, surrogate.MicroBatch);

    /// <inheritdoc/>
    public WorkerCountRuleSurrogate ConvertToSurrogate(in WorkerCountRule value) =>
        new(value.GlobalBatch, value.GhostBatch, value.SpecWorkers, value.KeepWorkerBatch, value.PlanNeedsSpecWorkers, value.MicroBatch);
}
