using Orchestrator.Contracts.Models;

namespace Orchestrator.Scheduler.Lifecycle;

/// <summary>
/// The legal phase changes of a job: Pending -> Launching -> Running -> (Rescaling -> Launching) ->
/// Succeeded | Failed | Cancelled. A restart after a failure goes Running -> Launching, or
/// Launching -> Launching when the gang died before it was running; a restart whose nodes are gone and whose gang fits
/// nowhere else goes Launching -> Pending until capacity returns. Pure logic:
/// the job grain persists a transition only after this table allows it.
/// </summary>
public static class JobTransitions
{
    private static readonly Dictionary<JobPhase, JobPhase[]> Allowed = new()
    {
        [JobPhase.Pending] = [JobPhase.Launching, JobPhase.Cancelled, JobPhase.Failed],
        [JobPhase.Launching] = [JobPhase.Launching, JobPhase.Running, JobPhase.Pending, JobPhase.Failed, JobPhase.Cancelled],
        [JobPhase.Running] = [JobPhase.Rescaling, JobPhase.Launching, JobPhase.Succeeded, JobPhase.Failed, JobPhase.Cancelled],
        [JobPhase.Rescaling] = [JobPhase.Launching, JobPhase.Failed, JobPhase.Cancelled],
        [JobPhase.Succeeded] = [],
        [JobPhase.Failed] = [],
        [JobPhase.Cancelled] = [],
    };

    public static bool IsTerminal(JobPhase phase) => Allowed[phase].Length == 0;

    public static bool CanMove(JobPhase from, JobPhase to) => Allowed[from].Contains(to);

    /// <summary>Returns <paramref name="to"/> when the move is legal; otherwise throws naming both phases.</summary>
    public static JobPhase Move(JobPhase from, JobPhase to) =>
        CanMove(from, to) ? to : throw new InvalidOperationException($"illegal job transition {from} -> {to}");
}
