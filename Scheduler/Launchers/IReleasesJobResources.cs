namespace Orchestrator.Scheduler.Launchers;

/// <summary>
/// A launcher that holds resources of a job between its launches (the Kubernetes launcher's worker pods, kept across a
/// relaunch or rescale so only the difference is created or deleted). <see cref="JobRunner.ReleaseAsync"/> hands the job's end
/// (success, failure, cancel) to it.
/// </summary>
public interface IReleasesJobResources
{
    /// <summary>Deletes everything the launcher made for <paramref name="jobId"/>; nothing made is fine. Never throws for a
    /// resource that is gone; reports other failures by exception.</summary>
    Task ReleaseAsync(string jobId);
}
