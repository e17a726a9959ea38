using Orchestrator.Contracts.Models;
using Orchestrator.Scheduler.Placement;
using Orchestrator.Spec;

namespace Orchestrator.Silos.Commands;

/// <summary>
/// The client-side check that a job's gang can ever be admitted: its workers must fit the worker slots (an
/// embedded silo's, or the cluster's). Checked before anything is started or sent, so the user gets the error
/// instead of a job that fails "not admitted".
/// </summary>
public static class GangCapacity
{
    /// <summary>Throws a <see cref="UserFacingException"/> naming <c>--workers</c> when <paramref name="job"/>'s workers exceed
    /// <paramref name="capacity"/> slots; <paramref name="whose"/> and <paramref name="hint"/> say whose slots and what to change.</summary>
    public static void EnsureFits(JobSpec job, int capacity, string whose, string hint)
    {
        ArgumentNullException.ThrowIfNull(job);
        if (job.Workers > capacity)
            throw new UserFacingException($"--workers: {job.Workers} workers do not fit {whose} {capacity} worker slots; use at most {capacity}{hint}");
    }

    /// <summary>
    /// Throws a <see cref="UserFacingException"/> naming <c>workers</c> and <c>placement</c> when no placement over the cluster's
    /// live nodes could ever hold <paramref name="job"/>'s gang (what is short, named); a cluster without registered nodes is
    /// checked against its slot count.
    /// </summary>
    public static void EnsureFits(JobSpec job, SchedulerSnapshot cluster)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(cluster);
        if (cluster.Nodes.IsDefaultOrEmpty)
        {
            EnsureFits(job, cluster.Capacity, "the cluster's", "");
            return;
        }
        var nodes = cluster.Nodes.Select(n => new NodeSlots(n.Node.Name, n.Node.Slots, n.Node.Slots, n.Alive)).ToList();
        if (GangPlacer.NeverFits(nodes, job.Workers, job.PlacementOrDefault) is { } shortfall)
            throw new UserFacingException($"workers/placement: the cluster could never run this job: {shortfall}");
    }
}
