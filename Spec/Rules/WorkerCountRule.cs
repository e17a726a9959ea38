
namespace Orchestrator.Spec;

/// <summary>
/// Which worker counts a job can run on, and the global batch it trains with on each: the part of the spec the
/// control plane needs to accept or refuse <c>scale JOB --workers N</c> without re-reading YAML. Pure logic, the
/// same rule the workers apply when they start (<see cref="ForWorkers"/>).
/// </summary>
/// <param name="GlobalBatch">The spec's <c>training.global_batch</c>.</param>
/// <param name="GhostBatch">The spec's <c>training.ghost_batch</c>; 0 = none.</param>
/// <param name="SpecWorkers">The spec's <c>workers</c>: the count <paramref name="GlobalBatch"/> was written for.</param>
/// <param name="KeepWorkerBatch">True for <c>scaling.policy: keep_worker_batch</c>.</param>
/// <param name="PlanNeedsSpecWorkers">True when the epoch plan itself depends on the worker count (mixed sizes in B+ mode round
/// each size's batch to whole ghost batches per worker), so only <paramref name="SpecWorkers"/> can run it.</param>
/// <param name="MicroBatch">The spec's <c>training.micro_batch</c>; 0 = none. It stays as it is on any worker count: the
/// number of micro-batches per step follows the per-worker batch.</param>
public sealed record WorkerCountRule(int GlobalBatch, int GhostBatch, int SpecWorkers, bool KeepWorkerBatch, bool PlanNeedsSpecWorkers = false,
    int MicroBatch = 0)
{
    /// <summary>The rule of <paramref name="spec"/>.</summary>
    public static WorkerCountRule Of(JobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var mixed = spec.Training.MixedSizeOrOff;
        return new(spec.Training.GlobalBatch, spec.Training.GhostBatch, spec.Workers, spec.ScalingOrDefault.KeepsWorkerBatch,
            PlanNeedsSpecWorkers: mixed.Mode == MixedSizeMode.BPlus, MicroBatch: spec.Training.MicroBatch);
    }

    /// <summary>The global batch on <paramref name="workers"/> workers: unchanged, or the per-worker batch times the count.</summary>
    public long GlobalBatchFor(int workers) => KeepWorkerBatch ? (long)GlobalBatch / SpecWorkers * workers : GlobalBatch;

    /// <summary>Why the job cannot be rescaled to <paramref name="workers"/> workers; null when it can.</summary>
    public string? Reject(int workers)
    {
        if (PlanNeedsSpecWorkers && workers != SpecWorkers && workers >= 1)
            return $"training.mixed_size: B+ plans round each size's batch per worker, so this job runs on its {SpecWorkers} workers only, not {workers}";
        return RejectBatch(workers);
    }

    /// <summary>Why the global batch cannot be trained on <paramref name="workers"/> workers; null when it can.</summary>
    private string? RejectBatch(int workers)
    {
        if (workers < 1)
            return $"workers: must be at least 1, got {workers}";
        if (workers > SpecVocabulary.MaxWorkers)
            return $"workers: must be at most {SpecVocabulary.MaxWorkers}, got {workers}";
        var batch = GlobalBatchFor(workers);
        if (batch > int.MaxValue)
            return $"training.global_batch: {GlobalBatch / SpecWorkers} per worker times {workers} workers is too large";
        if (batch % workers != 0)
            return $"training.global_batch: {batch} does not split evenly over the {workers} workers; use a worker count that divides it";
        if (GhostBatch > 0 && batch / workers % GhostBatch != 0)
            return $"training.ghost_batch: {GhostBatch} must divide the per-worker batch {batch}/{workers} = {batch / workers}";
        // A per-worker batch below micro_batch runs in one pass (more workers under keep_global_batch); above it, in whole micro-batches.
        if (MicroBatch > 0 && batch / workers > MicroBatch && batch / workers % MicroBatch != 0)
            return $"training.micro_batch: {MicroBatch} must divide the per-worker batch {batch}/{workers} = {batch / workers}";
        return null;
    }

    /// <summary>
    /// <paramref name="spec"/> as it runs on <paramref name="workers"/> workers (its <c>workers</c> and, under
    /// <c>keep_worker_batch</c>, its global batch); throws a <see cref="UserFacingException"/> naming the field when it cannot.
    /// </summary>
    public static JobSpec ForWorkers(JobSpec spec, int workers)
    {
        var rule = Of(spec);
        if (rule.RejectBatch(workers) is { } error)
            throw new UserFacingException($"{error} (scaling.policy: {spec.ScalingOrDefault.Policy.SpecName()}, spec written for {spec.Workers} workers)");
        return spec with { Workers = workers, Training = spec.Training with { GlobalBatch = (int)rule.GlobalBatchFor(workers) } };
    }
}
