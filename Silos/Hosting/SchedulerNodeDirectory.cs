using Orchestrator.Contracts.Grains;
using Orchestrator.Scheduler.Kubernetes;

namespace Orchestrator.Silos.Hosting;

/// <summary>The cluster's registered nodes, as the scheduler grain knows them: a worker pod is a node once its silo registered it and is alive.</summary>
internal sealed class SchedulerNodeDirectory(IGrainFactory grains) : IWorkerNodeDirectory
{
    /// <inheritdoc />
    public async Task<string?> LiveAddressAsync(string node)
    {
        var snapshot = await grains.GetGrain<ISchedulerGrain>(ISchedulerGrain.DefaultKey).GetSnapshotAsync();
        return snapshot.Nodes.IsDefaultOrEmpty ? null : snapshot.Nodes.FirstOrDefault(n => n.Node.Name == node && n.Alive)?.Node.Address;
    }
}
