namespace Orchestrator.Trainer.Sparsity;

/// <summary>
/// The optimal transposable N:M mask of one M x M block, exactly as ALGORITHMS.md section 8 states it: a min-cost flow of
/// M*N units on source -> row i (capacity N), row i -> column j (capacity 1, cost -|w_ij|), column j -> sink (capacity N).
/// The saturated row -> column edges are the kept entries, and the minimum cost is minus the largest kept magnitude.
/// Solved by successive shortest paths with Bellman-Ford (negative costs, at most 2M+2 = 34 nodes and M^2 + 2M = 288
/// edges), one unit per augmentation: M*N augmentations, cheap at these sizes and with no potentials to keep exact.
/// </summary>
internal static class MinCostFlowBlockMask
{
    /// <summary>
    /// Relaxations must improve by more than this (costs are scaled to [-1, 0]), so float rounding cannot make a
    /// zero-cost residual cycle (ties) look negative and loop; it moves the optimum by at most ~1e-10 of the block's maximum.
    /// </summary>
    private const double Epsilon = 1e-12;

    /// <summary>Writes into <paramref name="mask"/> (M*M, row-major) a mask of maximal kept magnitude. Arguments are checked by the caller.</summary>
    public static void Compute(ReadOnlySpan<float> block, int n, int m, Span<bool> mask)
    {
        int source = 0, sink = 2 * m + 1, nodes = 2 * m + 2;
        int edgeCapacity = 2 * (m * m + 2 * m);
        // Edge e and its residual twin e ^ 1 are stored side by side.
        var from = new int[edgeCapacity];
        var to = new int[edgeCapacity];
        var cap = new int[edgeCapacity];
        var cost = new double[edgeCapacity];
        int edges = 0;
        void AddEdge(int u, int v, int capacity, double c)
        {
            from[edges] = u; to[edges] = v; cap[edges] = capacity; cost[edges] = c; edges++;
            from[edges] = v; to[edges] = u; cap[edges] = 0; cost[edges] = -c; edges++;
        }

        double scale = 0;
        foreach (float w in block) scale = Math.Max(scale, Math.Abs(w));
        if (scale == 0) scale = 1; // all zero: every valid mask is optimal; the flow still yields one
        for (int i = 0; i < m; i++) AddEdge(source, 1 + i, n, 0);
        int firstCell = edges;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < m; j++)
                AddEdge(1 + i, 1 + m + j, 1, -Math.Abs(block[i * m + j]) / scale);
        for (int j = 0; j < m; j++) AddEdge(1 + m + j, sink, n, 0);

        var dist = new double[nodes];
        var via = new int[nodes];
        for (int unit = 0; unit < n * m; unit++)
        {
            Array.Fill(dist, double.PositiveInfinity);
            Array.Fill(via, -1);
            dist[source] = 0;
            // Bellman-Ford: at most nodes - 1 rounds; the residual graph has no negative cycle because every augmentation
            // follows a shortest path (the successive-shortest-path invariant), so it settles.
            for (int round = 0; round < nodes - 1; round++)
            {
                bool changed = false;
                for (int e = 0; e < edges; e++)
                {
                    if (cap[e] == 0 || double.IsPositiveInfinity(dist[from[e]])) continue;
                    double d = dist[from[e]] + cost[e];
                    if (d < dist[to[e]] - Epsilon) { dist[to[e]] = d; via[to[e]] = e; changed = true; }
                }
                if (!changed) break;
            }
            if (via[sink] < 0)
                throw new InvalidOperationException($"Transposable {n}:{m} min-cost flow found no augmenting path after {unit} units; an N-regular mask always exists, so this is a bug.");
            // Walk back at most nodes edges: a longer walk would mean a cycle in the predecessor graph, which the epsilon rules out.
            int v = sink, steps = 0;
            while (v != source)
            {
                if (++steps > nodes) throw new InvalidOperationException("Transposable mask min-cost flow: cycle in the shortest-path tree (bug).");
                int e = via[v];
                cap[e]--;
                cap[e ^ 1]++;
                v = from[e];
            }
        }
        for (int k = 0; k < m * m; k++) mask[k] = cap[firstCell + 2 * k] == 0;
    }
}
