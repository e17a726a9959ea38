using System.Collections.Immutable;
using System.Globalization;
using Orchestrator.Contracts.Models;
using Orchestrator.Spec;

namespace Orchestrator.Scheduler.Placement;

/// <summary>
/// Decides which nodes run a gang's ranks: pure logic over a list of nodes and their free slots (no Orleans, no I/O), so
/// admission, rescale and recovery after a node loss all place the same way and the rules are tested directly.
/// <list type="bullet">
/// <item>Dead nodes never get ranks; a node gets at most its free slots.</item>
/// <item><c>ranks_per_node: K</c>: every node used runs exactly K ranks except the last, which runs the rest
/// (<c>mpirun -ppn K</c>); so the gang spans ceil(workers / K) nodes.</item>
/// <item><c>pack</c>: as few nodes as possible; a gang that fits on one node goes to the node with the fewest free slots that
/// still holds it (best fit: large free nodes stay free for large gangs); otherwise the nodes with the most free slots
/// first. <c>spread</c>: as many nodes as possible, ranks dealt out in turn, nodes with the most free slots first.</item>
/// <item>Ties are broken by node name, so the same inputs always give the same placement.</item>
/// </list>
/// </summary>
public static class GangPlacer
{
    /// <summary>Places <paramref name="workers"/> ranks over <paramref name="nodes"/>' free slots.</summary>
    /// <param name="placement">The placement when it fits; null otherwise.</param>
    /// <param name="shortfall">Why it does not fit (what is short, named), or null.</param>
    /// <exception cref="ArgumentException">Two nodes share a name, or a node has negative or excess free slots.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Workers below 1.</exception>
    public static bool TryPlace(IReadOnlyList<NodeSlots> nodes, int workers, PlacementSpec spec, out GangPlacement? placement, out string? shortfall)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        Check(nodes);
        placement = null;
        shortfall = null;
        var live = nodes.Where(n => n.Alive && n.Free > 0).ToList();
        var chosen = spec.RanksPerNode > 0 ? PlaceFixedShares(live, workers, spec) : PlaceFree(live, workers, spec.Policy);
        if (chosen is null)
        {
            shortfall = Shortfall(nodes, workers, spec);
            return false;
        }
        placement = new GangPlacement([.. chosen.Where(n => n.Ranks > 0)]);
        return true;
    }

    /// <summary>
    /// Whether the gang could ever run on these nodes (each live node empty): a gang that cannot is refused at submission
    /// rather than queued forever. Null when it could; otherwise what is short.
    /// </summary>
    public static string? NeverFits(IReadOnlyList<NodeSlots> nodes, int workers, PlacementSpec spec)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        var empty = nodes.Select(n => n with { Free = n.Slots }).ToList();
        return TryPlace(empty, workers, spec, out _, out var shortfall) ? null : shortfall;
    }

    private static List<NodeRanks>? PlaceFree(List<NodeSlots> live, int workers, PlacementPolicy policy)
    {
        if (live.Sum(n => (long)n.Free) < workers) return null;
        var byFree = live.OrderByDescending(n => n.Free).ThenBy(n => n.Name, StringComparer.Ordinal).ToList();
        if (policy == PlacementPolicy.Pack)
        {
            var bestFit = live.Where(n => n.Free >= workers).OrderBy(n => n.Free).ThenBy(n => n.Name, StringComparer.Ordinal).ToList();
            if (bestFit.Count > 0) return [new NodeRanks(bestFit[0].Name, workers)];
            var packed = new List<NodeRanks>();
            var left = workers;
            foreach (var node in byFree)
            {
                var take = Math.Min(node.Free, left);
                packed.Add(new NodeRanks(node.Name, take));
                left -= take;
                if (left == 0) break;
            }
            return packed;
        }
        var used = byFree.Take(Math.Min(workers, byFree.Count)).ToList();
        var counts = new int[used.Count];
        var remaining = workers;
        while (remaining > 0)
        {
            for (int i = 0; i < used.Count && remaining > 0; i++)
            {
                if (counts[i] >= used[i].Free) continue;
                counts[i]++;
                remaining--;
            }
        }
        return [.. used.Select((n, i) => new NodeRanks(n.Name, counts[i]))];
    }

    private static List<NodeRanks>? PlaceFixedShares(List<NodeSlots> live, int workers, PlacementSpec spec)
    {
        var k = spec.RanksPerNode;
        var shares = Enumerable.Repeat(k, workers / k).ToList();
        if (workers % k != 0) shares.Add(workers % k);
        var open = live.ToList();
        var placed = new List<NodeRanks>();
        foreach (var share in shares)
        {
            var fitting = open.Where(n => n.Free >= share);
            var pick = spec.Policy == PlacementPolicy.Pack
                ? fitting.OrderBy(n => n.Free).ThenBy(n => n.Name, StringComparer.Ordinal).FirstOrDefault()
                : fitting.OrderByDescending(n => n.Free).ThenBy(n => n.Name, StringComparer.Ordinal).FirstOrDefault();
            if (pick.Name is null) return null;
            open.Remove(pick);
            placed.Add(new NodeRanks(pick.Name, share));
        }
        return placed;
    }

    private static string Shortfall(IReadOnlyList<NodeSlots> nodes, int workers, PlacementSpec spec)
    {
        var live = nodes.Where(n => n.Alive).ToList();
        var down = nodes.Where(n => !n.Alive).Select(n => n.Name).ToList();
        var text = new System.Text.StringBuilder(string.Create(CultureInfo.InvariantCulture, $"the gang needs {workers} rank{(workers == 1 ? "" : "s")}"));
        if (live.Count == 0)
            text.Append("; no node is alive");
        else
        {
            var free = live.Sum(n => n.Free);
            text.Append(CultureInfo.InvariantCulture, $"; the {live.Count} live node{(live.Count == 1 ? "" : "s")} have {free} free slot{(free == 1 ? "" : "s")} (");
            text.AppendJoin(", ", live.Select(n => $"{n.Name} {n.Free} free of {n.Slots}"));
            text.Append(')');
            if (spec.RanksPerNode > 0)
            {
                var nodesNeeded = (workers + spec.RanksPerNode - 1) / spec.RanksPerNode;
                var largest = live.Max(n => n.Slots);
                text.Append(spec.RanksPerNode > largest
                    ? $"; placement.ranks_per_node {spec.RanksPerNode} is more than any node has (the largest has {largest} slots)"
                    : $"; placement.ranks_per_node {spec.RanksPerNode} needs {nodesNeeded} node{(nodesNeeded == 1 ? "" : "s")} with {spec.RanksPerNode} free slots each " +
                      $"({live.Count(n => n.Free >= spec.RanksPerNode)} have them)");
            }
        }
        if (down.Count > 0) text.Append("; down: ").AppendJoin(", ", down);
        return text.ToString();
    }

    private static void Check(IReadOnlyList<NodeSlots> nodes)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in nodes)
        {
            if (string.IsNullOrEmpty(node.Name)) throw new ArgumentException("a node has no name", nameof(nodes));
            if (!names.Add(node.Name)) throw new ArgumentException($"node '{node.Name}' appears twice", nameof(nodes));
            if (node.Free < 0 || node.Free > node.Slots)
                throw new ArgumentException($"node '{node.Name}' has {node.Free} free of {node.Slots} slots", nameof(nodes));
        }
    }
}
