using CsCheck;
using Orchestrator.Scheduler.Placement;
using Orchestrator.Spec;

namespace Orchestrator.Tests.Scheduler;

/// <summary><see cref="GangPlacer"/>: which nodes run a gang's ranks.</summary>
public sealed class GangPlacerTests
{
    private static readonly PlacementSpec Pack = PlacementSpec.Default;
    private static readonly PlacementSpec Spread = new(0, PlacementPolicy.Spread);

    /// <summary>Nodes as "name:free/slots" (an "x" after the name marks a dead node: "ax:4/4" is node a, down).</summary>
    private static List<NodeSlots> Nodes(string text) => [.. text.Split(' ').Select(n =>
    {
        var parts = n.Split(':', '/');
        var dead = parts[0].EndsWith('x');
        return new NodeSlots(dead ? parts[0][..^1] : parts[0], int.Parse(parts[2]), int.Parse(parts[1]), !dead);
    })];

    private static string Place(string nodes, int workers, PlacementSpec spec) =>
        GangPlacer.TryPlace(Nodes(nodes), workers, spec, out var placement, out var shortfall) ? placement!.ToString() : "short: " + shortfall;

    [Theory]
    // A gang that fits one node goes to the node with the fewest free slots that holds it (best fit).
    [InlineData("a:4/4 b:2/4 c:3/4", 2, "b:2")]
    [InlineData("a:4/4 b:2/4 c:3/4", 3, "c:3")]
    // Otherwise the nodes with the most free slots first, so the gang spans as few nodes as possible.
    [InlineData("a:4/4 b:2/4 c:3/4", 6, "a:4,c:2")]
    [InlineData("a:4/4 b:2/4 c:3/4", 9, "a:4,c:3,b:2")]
    // Ties go by name.
    [InlineData("b:2/2 a:2/2", 2, "a:2")]
    [InlineData("b:2/2 a:2/2 c:2/2", 3, "a:2,b:1")]
    public void Pack_uses_as_few_nodes_as_possible(string nodes, int workers, string expected) =>
        Assert.Equal(expected, Place(nodes, workers, Pack));

    [Theory]
    [InlineData("a:4/4 b:4/4 c:4/4", 3, "a:1,b:1,c:1")]
    [InlineData("a:4/4 b:4/4 c:4/4", 5, "a:2,b:2,c:1")]
    [InlineData("a:1/4 b:4/4 c:4/4", 7, "b:3,c:3,a:1")]
    [InlineData("a:4/4 b:4/4", 1, "a:1")]
    public void Spread_deals_ranks_out_over_as_many_nodes_as_possible(string nodes, int workers, string expected) =>
        Assert.Equal(expected, Place(nodes, workers, Spread));

    [Theory]
    // K per node, the last node the rest; pack takes the tightest nodes, spread the emptiest.
    [InlineData("a:4/4 b:2/4 c:3/4", 4, 2, "pack", "b:2,c:2")]
    [InlineData("a:4/4 b:2/4 c:3/4", 5, 2, "pack", "b:2,c:2,a:1")]
    [InlineData("a:4/4 b:2/4 c:3/4", 4, 2, "spread", "a:2,c:2")]
    [InlineData("a:4/4 b:4/4", 4, 4, "pack", "a:4")]
    public void Ranks_per_node_fixes_the_ranks_of_every_node_but_the_last(string nodes, int workers, int k, string policy, string expected) =>
        Assert.Equal(expected, Place(nodes, workers, new PlacementSpec(k, policy == "pack" ? PlacementPolicy.Pack : PlacementPolicy.Spread)));

    [Fact]
    public void A_dead_node_never_gets_ranks_even_with_free_slots()
    {
        Assert.Equal("b:2", Place("ax:4/4 b:2/2", 2, Pack));
        Assert.Equal("b:1,c:1", Place("ax:4/4 b:2/2 c:2/2", 2, Spread));
        var shortfall = Place("ax:4/4 b:2/2", 3, Pack);
        Assert.Equal("short: the gang needs 3 ranks; the 1 live node have 2 free slots (b 2 free of 2); down: a", shortfall);
    }

    [Fact]
    public void A_gang_that_does_not_fit_is_refused_naming_what_is_short()
    {
        Assert.Equal("short: the gang needs 5 ranks; the 2 live nodes have 3 free slots (a 1 free of 4, b 2 free of 2)", Place("a:1/4 b:2/2", 5, Pack));
        Assert.Equal("a:3,b:1", Place("a:4/4 b:2/2", 4, new PlacementSpec(3, PlacementPolicy.Pack)));
        Assert.Equal("short: the gang needs 6 ranks; the 2 live nodes have 6 free slots (a 4 free of 4, b 2 free of 2); " +
            "placement.ranks_per_node 3 needs 2 nodes with 3 free slots each (1 have them)", Place("a:4/4 b:2/2", 6, new PlacementSpec(3, PlacementPolicy.Pack)));
        Assert.Equal("short: the gang needs 16 ranks; the 2 live nodes have 6 free slots (a 4 free of 4, b 2 free of 2); " +
            "placement.ranks_per_node 8 is more than any node has (the largest has 4 slots)", Place("a:4/4 b:2/2", 16, new PlacementSpec(8, PlacementPolicy.Pack)));
        Assert.Equal("b:2", Place("a:4/4 b:2/2", 2, new PlacementSpec(8, PlacementPolicy.Pack))); // a gang smaller than K is the last node's rest
        Assert.Equal("short: the gang needs 1 rank; no node is alive; down: a", Place("ax:1/1", 1, Pack));
    }

    [Fact]
    public void Never_fits_looks_at_the_live_nodes_as_if_empty()
    {
        var busy = Nodes("a:0/4 b:0/2 cx:8/8");
        Assert.Null(GangPlacer.NeverFits(busy, 6, Pack));
        Assert.NotNull(GangPlacer.NeverFits(busy, 7, Pack));
        Assert.Null(GangPlacer.NeverFits(busy, 4, new PlacementSpec(3, PlacementPolicy.Spread))); // 3 on a, 1 on b
        Assert.NotNull(GangPlacer.NeverFits(busy, 6, new PlacementSpec(3, PlacementPolicy.Spread))); // only a holds 3
    }

    [Fact]
    public void Bad_node_lists_are_programming_errors()
    {
        Assert.Throws<ArgumentException>(() => GangPlacer.TryPlace(Nodes("a:1/1 a:1/1"), 1, Pack, out _, out _));
        Assert.Throws<ArgumentException>(() => GangPlacer.TryPlace(Nodes("a:3/2"), 1, Pack, out _, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => GangPlacer.TryPlace(Nodes("a:1/1"), 0, Pack, out _, out _));
    }

    [Fact]
    public void Any_placement_respects_free_slots_liveness_and_the_per_node_limit_and_fits_whenever_the_slots_allow()
    {
        var node = Gen.Select(Gen.Int[1, 8], Gen.Int[0, 8], Gen.Bool, Gen.Int[0, 9], (slots, free, alive, id) => (slots, free: Math.Min(free, slots), alive, id));
        Gen.Select(node.List[1, 6], Gen.Int[1, 30], Gen.Int[0, 4], Gen.Bool).Sample((raw, workers, k, spread) =>
        {
            var nodes = raw.DistinctBy(n => n.id).Select(n => new NodeSlots($"n{n.id}", n.slots, n.free, n.alive)).ToList();
            var spec = new PlacementSpec(k, spread ? PlacementPolicy.Spread : PlacementPolicy.Pack);
            var fits = GangPlacer.TryPlace(nodes, workers, spec, out var placement, out var shortfall);
            if (!fits) return shortfall is not null && !CouldFit(nodes, workers, k);
            var byName = nodes.ToDictionary(n => n.Name);
            return placement!.Workers == workers
                && placement.Nodes.All(p => p.Ranks > 0 && byName[p.Node].Alive && p.Ranks <= byName[p.Node].Free && (k == 0 || p.Ranks <= k))
                && placement.Nodes.Select(p => p.Node).Distinct().Count() == placement.Nodes.Length
                && (k == 0 || placement.Nodes.SkipLast(1).All(p => p.Ranks == k));
        }, iter: 2000, threads: 1);
    }

    /// <summary>Brute force: could the live nodes hold the gang under the K rule at all?</summary>
    private static bool CouldFit(List<NodeSlots> nodes, int workers, int k)
    {
        var free = nodes.Where(n => n.Alive).Select(n => n.Free).ToList();
        if (k == 0) return free.Sum() >= workers;
        var shares = Enumerable.Repeat(k, workers / k).Concat(workers % k == 0 ? [] : [workers % k]).ToList();
        return Assign(shares, 0, free, new bool[free.Count]);

        static bool Assign(List<int> shares, int i, List<int> free, bool[] used)
        {
            if (i == shares.Count) return true;
            for (int n = 0; n < free.Count; n++)
            {
                if (used[n] || free[n] < shares[i]) continue;
                used[n] = true;
                if (Assign(shares, i + 1, free, used)) return true;
                used[n] = false;
            }
            return false;
        }
    }
}
