namespace Orchestrator.Trainer.Sparsity;

/// <summary>
/// The plain (non-transposable) N:M weight mask, the comparison baseline of ALGORITHMS.md section 8: in every group of M
/// consecutive values of a row keep the N of largest magnitude. Only W is N:M, not W^T, so only the forward GEMM could
/// be accelerated.
/// </summary>
public static class NmMask
{
    /// <summary>
    /// The mask of a row-major <paramref name="rows"/> x <paramref name="cols"/> weight (a conv weight reshaped to
    /// [out, in*kh*kw] by the caller): true = kept. Ties in magnitude keep the lower index, so the mask is deterministic.
    /// </summary>
    /// <exception cref="ArgumentException">N:M outside 1 &lt;= N &lt; M &lt;= 16, a shape that does not match the span,
    /// <paramref name="cols"/> not a multiple of M (a partial group has no N:M meaning, so it is refused rather than left
    /// dense silently), or a non-finite weight.</exception>
    public static bool[] Compute(ReadOnlySpan<float> weights, int rows, int cols, int n, int m)
    {
        MaskArguments.CheckPattern(n, m);
        MaskArguments.CheckShape(weights.Length, rows, cols, "weights");
        if (cols % m != 0)
            throw new ArgumentException($"N:M mask of weights with shape [{rows}, {cols}]: the {cols} columns are not a multiple of M = {m}.");
        MaskArguments.CheckFinite(weights);
        var mask = new bool[weights.Length];
        for (int g = 0; g < weights.Length; g += m)
        {
            var group = weights.Slice(g, m);
            for (int k = 0; k < n; k++)
            {
                // Selection by repeated max: M <= 16, so at most 15 x 16 compares per group; strict > keeps the lower index on ties.
                int best = -1;
                float bestA = -1f;
                for (int i = 0; i < m; i++)
                {
                    float a = MathF.Abs(group[i]);
                    if (!mask[g + i] && a > bestA) { best = i; bestA = a; }
                }
                mask[g + best] = true;
            }
        }
        return mask;
    }
}
