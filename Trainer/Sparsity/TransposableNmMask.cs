namespace Orchestrator.Trainer.Sparsity;

/// <summary>
/// Transposable N:M weight masks (Hubara et al., NeurIPS 2021; ALGORITHMS.md section 8): every M x M block keeps exactly N
/// entries in each row and each column, so both W (forward GEMM) and W^T (backward GEMM) are N:M.
/// </summary>
public static class TransposableNmMask
{
    /// <summary>
    /// The mask of a row-major <paramref name="rows"/> x <paramref name="cols"/> weight ([out, in]; a conv weight reshaped
    /// to [out, in*kh*kw] by the caller), tiled into M x M blocks each masked on its own: true = kept. Deterministic.
    /// </summary>
    /// <exception cref="ArgumentException">N:M outside 1 &lt;= N &lt; M &lt;= 16, a shape that does not match the span, a
    /// dimension not a multiple of M (a partial block cannot have N per row and per column, and leaving it dense would
    /// silently break the W^T guarantee, so the shape is refused), or a non-finite weight.</exception>
    public static bool[] Compute(ReadOnlySpan<float> weights, int rows, int cols, int n, int m, TransposableMaskMethod method)
    {
        MaskArguments.CheckPattern(n, m);
        MaskArguments.CheckShape(weights.Length, rows, cols, "weights");
        if (rows % m != 0 || cols % m != 0)
            throw new ArgumentException($"Transposable {n}:{m} mask of weights with shape [{rows}, {cols}]: both dimensions must be multiples of M = {m}.");
        MaskArguments.CheckFinite(weights);
        var mask = new bool[weights.Length];
        Span<float> block = stackalloc float[m * m];
        Span<bool> blockMask = stackalloc bool[m * m];
        for (int r0 = 0; r0 < rows; r0 += m)
            for (int c0 = 0; c0 < cols; c0 += m)
            {
                for (int i = 0; i < m; i++) weights.Slice((r0 + i) * cols + c0, m).CopyTo(block.Slice(i * m, m));
                BlockInto(block, n, m, method, blockMask);
                for (int i = 0; i < m; i++) blockMask.Slice(i * m, m).CopyTo(mask.AsSpan((r0 + i) * cols + c0, m));
            }
        return mask;
    }

    /// <summary>The mask of one row-major M x M block: exactly N kept per row and per column. Deterministic.</summary>
    /// <exception cref="ArgumentException">N:M out of range, a block that is not M x M values, or a non-finite weight.</exception>
    public static bool[] ComputeBlock(ReadOnlySpan<float> block, int n, int m, TransposableMaskMethod method)
    {
        MaskArguments.CheckPattern(n, m);
        MaskArguments.CheckShape(block.Length, m, m, "block");
        MaskArguments.CheckFinite(block);
        var mask = new bool[m * m];
        BlockInto(block, n, m, method, mask);
        return mask;
    }

    private static void BlockInto(ReadOnlySpan<float> block, int n, int m, TransposableMaskMethod method, Span<bool> mask)
    {
        switch (method)
        {
            case TransposableMaskMethod.Optimal: MinCostFlowBlockMask.Compute(block, n, m, mask); break;
            case TransposableMaskMethod.Greedy: GreedyBlockMask.Compute(block, n, m, mask); break;
            default: throw new ArgumentOutOfRangeException(nameof(method), method, "Unknown transposable mask method.");
        }
    }
}
