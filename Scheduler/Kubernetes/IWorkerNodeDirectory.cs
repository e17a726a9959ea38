namespace Orchestrator.Scheduler.Kubernetes;

/// <summary>
/// Whether a worker pod's silo has registered its node with the cluster yet: the launcher starts Hydra only once every pod of
/// the gang is a live node (<c>node-exec</c> reaches nodes through their silos). The silo answers from the scheduler's nodes;
/// tests answer from the pods.
/// </summary>
public interface IWorkerNodeDirectory
{
    /// <summary>The address of the live registered node <paramref name="node"/>; null while it is not registered (or down).</summary>
    Task<string?> LiveAddressAsync(string node);
}
