using System.Collections.Immutable;

namespace Orchestrator.Contracts.Grains;

/// <summary>
/// The names of every job submitted to the cluster, in submission order (for <c>status</c> without a job and
/// for the silo's metrics). One per cluster, key <see cref="DefaultKey"/>. A job grain adds itself when it is
/// submitted; the list is persisted before the call returns.
/// </summary>
[Alias("orchestrator.IJobRegistryGrain.v1")]
public interface IJobRegistryGrain : IGrainWithStringKey
{
    /// <summary>The key of the cluster's registry.</summary>
    const string DefaultKey = "default";

    /// <summary>Records a job name (idempotent).</summary>
    [Alias("Add")]
    Task AddAsync(string jobId);

    /// <summary>Every recorded job name, oldest first.</summary>
    [Alias("List")]
    Task<ImmutableArray<string>> ListAsync();
}
