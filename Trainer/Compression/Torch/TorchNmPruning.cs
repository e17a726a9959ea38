using Orchestrator.Spec;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Compression.Torch;

/// <summary>
/// N:M pruning as torch ops vectorized over blocks: every block of M consecutive values (the last one
/// zero-padded) yields exactly N (value, in-block position) pairs, positions ascending.
/// </summary>
internal static class TorchNmPruning
{
    /// <summary>The kept values [blocks, N] (float32) and their in-block positions [blocks, N] (int64).</summary>
    public static (Tensor Values, Tensor Positions) Prune(Tensor flat, int n, int m, PrunerKind pruner, Generator? generator)
    {
        using var scope = NewDisposeScope();
        long elements = flat.numel();
        long blocks = (elements + m - 1) / m;
        var x = nn.functional.pad(flat.flatten(), [0, blocks * m - elements]).view(blocks, m);
        // MVUE: water-filled inclusion probabilities, systematic sampling, kept value x/p; greedy: top-N magnitudes, unscaled.
        var (values, positions) = pruner switch
        {
            PrunerKind.Mvue => Mvue(x, n, m, generator!),
            PrunerKind.Greedy => Greedy(x, n),
        };
        return (values.MoveToOuterDisposeScope(), positions.MoveToOuterDisposeScope());
    }

    private static (Tensor, Tensor) Greedy(Tensor x, int n)
    {
        var top = x.abs().topk(n, dim: 1).indexes;
        // Ascending positions, as the MVUE path emits them: the format allows any order, but a fixed one
        // makes encodings comparable.
        var positions = top.sort(dim: 1).Values;
        return (x.gather(1, positions), positions);
    }

    private static (Tensor, Tensor) Mvue(Tensor x, int n, int m, Generator generator)
    {
        var device = x.device;
        long blocks = x.shape[0];
        var a = x.abs();
        var p = InclusionProbabilities(a, n);

        // Systematic sampling: points u, u+1, ..., u+N-1 on the cumulative sums of p; point t picks the
        // index i with cs[i-1] <= t < cs[i], i.e. the count of cumulative sums <= t. The sum is pinned to
        // exactly N so the last point always lands inside the block despite float rounding.
        var cumulative = p.cumsum(1);
        cumulative.select(1, m - 1).fill_(n);
        var u = rand([blocks, 1], ScalarType.Float32, device, generator: generator);
        var points = u.add(arange(n, ScalarType.Float32, device));
        var picked = cumulative.unsqueeze(1).le(points.unsqueeze(2)).sum(dim: 2);
        // In exact arithmetic every p <= 1 makes the picks strictly increasing; rounding of the cumulative
        // sums could repeat one at a boundary. Forcing pick_k - k to be non-decreasing (and <= M - N)
        // restores N distinct ascending positions and moves nothing otherwise.
        var offsets = arange(n, ScalarType.Int64, device);
        var shifted = picked.sub(offsets).clamp_max(m - n);
        var positions = cummax(shifted, 1).values.add(offsets);

        var kept = x.gather(1, positions);
        var probability = p.gather(1, positions);
        // p = 0 only for zeros, which a rounding repair might pick: they stay 0 instead of 0/0.
        var values = where(probability.gt(0), kept.div(probability), zeros_like(kept));
        return (values, positions);
    }

    /// <summary>
    /// MVUE inclusion probabilities p = min(1, c a) with sum p = N per block (water-filling), [blocks, M].
    /// Values whose share reaches 1 saturate at p = 1 and the rest split the remaining budget in
    /// proportion to magnitude. Each round saturates at least one more value and c only grows, so
    /// N - 1 rounds reach the fixed point (a block with more than N non-zeros saturates at most N - 1).
    /// </summary>
    internal static Tensor InclusionProbabilities(Tensor a, int n)
    {
        var nonzero = a.gt(0);
        var count = nonzero.sum(dim: 1, keepdim: true);
        var saturated = zeros_like(nonzero);
        for (int round = 0; round < n - 1; round++)
            saturated = saturated.logical_or(Share(a, saturated, n).ge(1));
        var p = where(saturated, ones_like(a), Share(a, saturated, n).clamp_max(1));

        // A block with at most N non-zeros is kept exactly: its non-zeros get p = 1, and the first
        // N - count zeros fill the remaining slots with p = 1 (their kept value is 0). Only 0 and 1
        // appear, so the sampling is deterministic and exact whatever the rounding.
        var zeroRank = nonzero.logical_not().to(ScalarType.Int64).cumsum(1);
        var filler = nonzero.logical_not().logical_and(zeroRank.le(count.neg().add(n)));
        var sparse = where(nonzero.logical_or(filler), ones_like(a), zeros_like(a));
        return where(count.le(n), sparse, p);
    }

    /// <summary>c a over the unsaturated values, c = (N - saturated count) / (their magnitude sum).</summary>
    private static Tensor Share(Tensor a, Tensor saturated, int n)
    {
        var free = saturated.logical_not();
        var budget = saturated.sum(dim: 1, keepdim: true).neg().add(n).to(ScalarType.Float32);
        var mass = where(free, a, zeros_like(a)).sum(dim: 1, keepdim: true);
        // A zero mass only occurs in blocks with at most N non-zeros, which the caller replaces anyway.
        var c = budget.div(where(mass.gt(0), mass, ones_like(mass)));
        return a.mul(c);
    }
}
