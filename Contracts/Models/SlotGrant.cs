using System.Collections.Immutable;
using Orchestrator.Spec;

namespace Orchestrator.Contracts.Models;

/// <summary>A job's gang of worker slots, granted or waiting in the admission queue.</summary>
/// <param name="JobId">The job's name.</param>
/// <param name="Workers">Slots the job needs, all at once.</param>
/// <param name="Nodes">Where a granted gang runs (nodes in rank order); empty while it waits.</param>
/// <param name="Placement">The job's placement rules; null = <see cref="PlacementSpec.Default"/>.</param>
/// <remarks>One constructor only: grain storage (JSON) builds the record through it.</remarks>
[GenerateSerializer, Immutable, Alias("orchestrator.SlotGrant.v1")]
public sealed record SlotGrant(string JobId, int Workers, ImmutableArray<NodeRanks> Nodes, PlacementSpec? Placement = null)
{
    /// <summary>The placement rules with the default filled in.</summary>
    public PlacementSpec PlacementOrDefault => Placement ?? PlacementSpec.Default;
}
