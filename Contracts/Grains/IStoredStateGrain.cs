namespace Orchestrator.Contracts.Grains;

/// <summary>
/// A grain whose state lives in the cluster's storage (Redis on a cluster). When the storage lost its records (a Redis
/// that restarted empty, keys evicted), the silo asks every such grain active on it to write its state back from memory;
/// Orleans itself writes state only when it changes, so an idle grain's record would stay lost.
/// </summary>
[Alias("orchestrator.IStoredStateGrain.v1")]
public interface IStoredStateGrain : IGrain
{
    /// <summary>Writes the grain's state back when the stored record is gone; true when it did.</summary>
    [Alias("WriteBackIfLost")]
    Task<bool> WriteBackIfLostAsync();
}
