using System.Collections.Concurrent;
using Orchestrator.Contracts.Grains;

namespace Orchestrator.Scheduler.Grains;

/// <summary>
/// The <see cref="IStoredStateGrain"/>s active on this silo (one instance per silo): each adds itself on activation and
/// leaves on deactivation, so the silo can ask them all to write their state back after the storage lost it.
/// </summary>
public sealed class ActiveStoredStateGrains
{
    private readonly ConcurrentDictionary<GrainId, IStoredStateGrain> grains = new();

    /// <summary>Records an activation of <paramref name="grain"/>.</summary>
    public void Add(GrainId id, IStoredStateGrain grain) => grains[id] = grain;

    /// <summary>Forgets the activation of <paramref name="id"/>.</summary>
    public void Remove(GrainId id) => grains.TryRemove(id, out _);

    /// <summary>The grains active now.</summary>
    public IReadOnlyList<IStoredStateGrain> Snapshot() => [.. grains.Values];
}
