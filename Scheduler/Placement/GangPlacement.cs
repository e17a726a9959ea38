using System.Collections.Immutable;
using Orchestrator.Contracts.Models;

namespace Orchestrator.Scheduler.Placement;

/// <summary>
/// Where a gang runs: nodes in rank order, each with its count of consecutive ranks (the first node holds rank 0 and its
/// neighbours, as Hydra's <c>-hosts A:2,B:2</c> numbers them).
/// </summary>
public sealed record GangPlacement(ImmutableArray<NodeRanks> Nodes)
{
    /// <summary>Ranks over all nodes.</summary>
    public int Workers => Nodes.Sum(n => n.Ranks);

    /// <summary>Ranks on <paramref name="node"/> (0 when it has none).</summary>
    public int RanksOn(string node) => Nodes.Where(n => n.Node == node).Sum(n => n.Ranks);

    /// <summary>The node that runs <paramref name="rank"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No such rank.</exception>
    public string NodeOf(int rank)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        var first = 0;
        foreach (var node in Nodes)
        {
            if (rank < first + node.Ranks) return node.Node;
            first += node.Ranks;
        }
        throw new ArgumentOutOfRangeException(nameof(rank), rank, $"the gang has {Workers} ranks");
    }

    /// <summary>As a user reads it: <c>node1:2,node2:2</c>.</summary>
    public override string ToString() => string.Join(',', Nodes.Select(n => $"{n.Node}:{n.Ranks}"));
}
