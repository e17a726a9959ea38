using Orchestrator.Spec;

namespace Orchestrator.Trainer.PostTraining;

/// <summary>
/// The integer program of mixed-precision post-training quantization (CalibTIP, ALGORITHMS.md section 9): choose one bit
/// width per layer to minimise the sum of the layers' measured loss increases subject to a total weight-bit budget.
/// </summary>
/// <remarks>
/// Solved exactly by dynamic programming over the layers on the Pareto frontier of (weight bits, loss): after each
/// layer only the partial plans that no other partial plan beats in both bits and loss are kept, and plans over the
/// budget are dropped. Any optimal plan extends an optimal-loss partial plan for its bit count, so the frontier never
/// drops one: the result is the optimum (brute force agrees, tested). The frontier is bounded by the number of distinct
/// bit totals; for the tens of layers of the models here it stays in the thousands. Ties in loss go to the plan with
/// fewer bits, then to the lower widths in layer order, so the result is deterministic.
/// </remarks>
public static class BitAllocator
{
    /// <summary>Frontier size beyond which the solver gives up rather than run out of memory.</summary>
    public const int MaxFrontier = 2_000_000;

    /// <summary>The cheapest plan within <paramref name="budgetBits"/> total weight bits.</summary>
    /// <exception cref="ArgumentException">No layers, a layer without options or with repeated widths, non-positive
    /// weights or widths, a non-finite loss.</exception>
    /// <exception cref="UserFacingException">The budget is below the smallest plan (every layer at its lowest width).</exception>
    public static BitPlan Solve(IReadOnlyList<LayerBitOptions> layers, long budgetBits)
    {
        Check(layers);
        long smallest = layers.Sum(l => l.Weights * l.Options.Min(o => o.Bits));
        if (budgetBits < smallest)
            throw new UserFacingException(
                $"a budget of {budgetBits:N0} weight bits is below the smallest plan ({smallest:N0} bits, every layer at its lowest width)");

        // frontier[k]: partial plans after k layers, ordered by bits ascending and loss strictly descending.
        var frontier = new List<State> { new(0, 0, -1, -1) };
        var history = new List<State[]>(layers.Count);
        foreach (var layer in layers)
        {
            var options = layer.Options.OrderBy(o => o.Bits).ToArray();
            var next = new List<State>(frontier.Count * options.Length);
            for (int s = 0; s < frontier.Count; s++)
            {
                for (int o = 0; o < options.Length; o++)
                {
                    long bits = frontier[s].Bits + layer.Weights * options[o].Bits;
                    if (bits <= budgetBits) next.Add(new State(bits, frontier[s].Loss + options[o].LossIncrease, s, options[o].Bits));
                }
            }
            history.Add(frontier.ToArray());
            frontier = Pareto(next);
            if (frontier.Count > MaxFrontier)
                throw new InvalidOperationException($"the bit allocation's frontier grew past {MaxFrontier:N0} partial plans at layer {layer.Layer}");
        }

        // The last frontier's plans all fit; its last entry has the lowest loss (losses fall as bits rise).
        var best = frontier[^1];
        var widths = new int[layers.Count];
        var state = best;
        for (int l = layers.Count - 1; l >= 0; l--)
        {
            widths[l] = state.Width;
            state = history[l][state.Parent];
        }
        return new BitPlan(widths, best.Bits, best.Loss);
    }

    /// <summary>The budget as a fraction of the weights' fp32 size, e.g. 0.13 for 13% (in (0, 1]).</summary>
    /// <exception cref="UserFacingException">The fraction is outside (0, 1].</exception>
    public static long BudgetBits(IReadOnlyList<LayerBitOptions> layers, double fraction)
    {
        if (!(fraction > 0 && fraction <= 1))
            throw new UserFacingException($"--budget: expected a fraction of the fp32 weight size in (0, 1], got {fraction}");
        return (long)Math.Floor(fraction * 32.0 * layers.Sum(l => l.Weights));
    }

    private readonly record struct State(long Bits, double Loss, int Parent, int Width);

    /// <summary>The plans no other plan beats in both bits and loss: by bits ascending (ties: lower loss, then earlier),
    /// keeping each that lowers the best loss so far.</summary>
    private static List<State> Pareto(List<State> states)
    {
        var ordered = states.Select((s, i) => (s, i)).OrderBy(p => p.s.Bits).ThenBy(p => p.s.Loss).ThenBy(p => p.i);
        var kept = new List<State>();
        foreach (var (s, _) in ordered)
        {
            if (kept.Count > 0 && s.Loss >= kept[^1].Loss) continue;
            kept.Add(s);
        }
        return kept;
    }

    private static void Check(IReadOnlyList<LayerBitOptions> layers)
    {
        if (layers.Count == 0) throw new ArgumentException("no layers to allocate bits to", nameof(layers));
        foreach (var layer in layers)
        {
            if (layer.Weights <= 0) throw new ArgumentException($"layer {layer.Layer}: {layer.Weights} weights", nameof(layers));
            if (layer.Options.Count == 0) throw new ArgumentException($"layer {layer.Layer}: no bit widths to choose from", nameof(layers));
            if (layer.Options.Select(o => o.Bits).Distinct().Count() != layer.Options.Count)
                throw new ArgumentException($"layer {layer.Layer}: a bit width is listed twice", nameof(layers));
            foreach (var (bits, loss) in layer.Options)
            {
                if (bits <= 0) throw new ArgumentException($"layer {layer.Layer}: bit width {bits}", nameof(layers));
                if (!double.IsFinite(loss)) throw new ArgumentException($"layer {layer.Layer}: loss increase {loss} at {bits} bits", nameof(layers));
            }
        }
    }
}
