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
    public static (Tensor Values, Tensor Positions) Prune(Tensor flat, int n, int m, PrunerKind pruner, CounterUniform? uniform)
    {
        using var scope = NewDisposeScope();
        long elements = flat.numel();
        long blocks = (elements + m - 1) / m;
        var x = nn.functional.pad(flat.flatten(), [0, blocks * m - elements]).view(blocks, m);
        // MVUE: water-filled inclusion probabilities, systematic sampling, kept value x/p; greedy: top-N magnitudes, unscaled.
        var (values, positions) = pruner switch
        {
            PrunerKind.Mvue => Mvue(x, n, m, uniform!),
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
        return Unencodable(x, n, x.gather(1, positions), positions);
    }

    /// <summary>
    /// The non-finite rule (README "Compression"), as the fused pruners apply it: a block with a NaN or an
    /// infinity, or whose MVUE level overflows (<paramref name="overflow"/>), sends N NaNs at positions 0..N-1.
    /// </summary>
    private static (Tensor, Tensor) Unencodable(Tensor x, int n, Tensor values, Tensor positions, Tensor? overflow = null)
    {
        var bad = x.isfinite().all(1, keepdim: true).logical_not();
        if (overflow is not null) bad = bad.logical_or(overflow);
        var first = arange(n, ScalarType.Int64, x.device).unsqueeze(0).expand_as(positions);
        return (where(bad, full_like(values, float.NaN), values), where(bad, first, positions));
    }

    /// <summary>
    /// MVUE over the whole float range, the fused <see cref="MvuePruner.Block"/> as tensor ops: the water level K
    /// in double, rounded up to the float K_r the wire carries; non-saturated values are kept with p = a / K_r as
    /// sign(x) K_r (so E = a exactly; sum p &lt;= N, and a sampling point past the total keeps nothing). Blocks with
    /// at most N non-zeros keep them (p = 1). Slots that keep nothing get zeros at the smallest unused positions.
    /// </summary>
    private static (Tensor, Tensor) Mvue(Tensor x, int n, int m, CounterUniform uniform)
    {
        var device = x.device;
        long blocks = x.shape[0];
        var finite = x.isfinite().all(1, keepdim: true);
        var clean = where(finite, x, zeros_like(x));
        var a = clean.abs().to(ScalarType.Float64);
        var nonzero = a.gt(0);
        var sparse = nonzero.sum(dim: 1, keepdim: true).le(n);
        var (saturated, level) = WaterLevel(a, n);
        saturated = where(sparse, nonzero, saturated);
        var rounded = level.to(ScalarType.Float32);
        rounded = where(rounded.to(ScalarType.Float64).lt(level), rounded.nextafter(full_like(rounded, float.PositiveInfinity)), rounded);
        var overflow = rounded.isinf().logical_and(sparse.logical_not());
        var p = where(saturated, ones_like(a), where(sparse, zeros_like(a), a.div(rounded.to(ScalarType.Float64))));

        // Systematic sampling: points u, u+1, ..., u+N-1 on the cumulative sums of p; point t picks the index i
        // with cs[i-1] <= t < cs[i], i.e. the count of cumulative sums <= t (M: past the total, nothing).
        var cumulative = p.cumsum(1);
        var u = uniform.Next([blocks, 1], device).to(ScalarType.Float64);
        var offsets = arange(n, ScalarType.Int64, device);
        var points = u.add(offsets.to(ScalarType.Float64));
        var picked = cumulative.unsqueeze(1).le(points.unsqueeze(2)).sum(dim: 2);
        // With every p <= 1 the picks strictly increase; double rounding of the cumulative sums could repeat
        // one at a boundary (~2^-49), which forcing pick_k - k to be non-decreasing repairs.
        picked = cummax(picked.sub(offsets), 1).values.add(offsets);
        var valid = picked.lt(m);
        // Slots that keep nothing: the smallest unused positions, in order (valid picks come first).
        var used = zeros([blocks, m + n], ScalarType.Bool, device).scatter_(1, picked, ones_like(picked, ScalarType.Bool)).narrow(1, 0, m);
        var free = used.to(ScalarType.Int64).mul(m).add(arange(m, ScalarType.Int64, device)).argsort(1);
        var filler = free.gather(1, offsets.sub(valid.sum(dim: 1, keepdim: true)).clamp_min(0));
        var positions = where(valid, picked, filler);

        var kept = clean.gather(1, positions);
        var values = where(saturated.gather(1, positions), kept, rounded.expand_as(kept).copysign(kept));
        values = where(valid, values, zeros_like(values));
        var order = positions.argsort(1);
        return Unencodable(x, n, values.gather(1, order), positions.gather(1, order), overflow);
    }

    /// <summary>
    /// MVUE inclusion probabilities p = min(1, c a) with sum p = N per block (water-filling), [blocks, M], in the
    /// dtype of <paramref name="a"/> (computed in double). A block with at most N non-zeros is kept exactly: its
    /// non-zeros get p = 1, and the first N - count zeros fill the remaining slots with p = 1 (their kept value is 0).
    /// </summary>
    internal static Tensor InclusionProbabilities(Tensor a, int n)
    {
        var a64 = a.to(ScalarType.Float64);
        var nonzero = a64.gt(0);
        var count = nonzero.sum(dim: 1, keepdim: true);
        var (saturated, level) = WaterLevel(a64, n);
        var p = where(saturated, ones_like(a64), a64.div(level).clamp_max(1));
        var zeroRank = nonzero.logical_not().to(ScalarType.Int64).cumsum(1);
        var filler = nonzero.logical_not().logical_and(zeroRank.le(count.neg().add(n)));
        var sparse = where(nonzero.logical_or(filler), ones_like(a64), zeros_like(a64));
        return where(count.le(n), sparse, p).to(a.dtype);
    }

    /// <summary>
    /// Water-filling in double over magnitudes [blocks, M]: the saturated values (p = 1) and the level K (the
    /// rest's sum over N - saturated count; p = a / K below it). Each round saturates at least one more value
    /// and K only falls, so N - 1 rounds reach the fixed point (a block with more than N non-zeros saturates at
    /// most N - 1). K is meaningless (1 / 0 guarded) for blocks with at most N non-zeros, which callers replace.
    /// </summary>
    private static (Tensor Saturated, Tensor Level) WaterLevel(Tensor a, int n)
    {
        var saturated = zeros_like(a, ScalarType.Bool);
        for (int round = 0; round < n - 1; round++)
            // Strictly above the level: a value equal to it has p = a / K = 1 anyway, and saturating ties (top values
            // that tie, or a rest too small to move the level in double) could saturate all N and leave K = x / 0.
            saturated = saturated.logical_or(a.gt(Level(a, saturated, n)).logical_and(a.gt(0)));
        return (saturated, Level(a, saturated, n));
    }

    /// <summary>K = (sum of the unsaturated magnitudes) / (N - saturated count), per block.</summary>
    private static Tensor Level(Tensor a, Tensor saturated, int n)
    {
        var budget = saturated.sum(dim: 1, keepdim: true).neg().add(n).to(ScalarType.Float64);
        var mass = where(saturated, zeros_like(a), a).sum(dim: 1, keepdim: true);
        return mass.div(budget);
    }
}
