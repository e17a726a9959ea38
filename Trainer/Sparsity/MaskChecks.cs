namespace Orchestrator.Trainer.Sparsity;

/// <summary>Checks and measures of weight masks (row-major, true = kept): what tests and the sparsity report rely on.</summary>
public static class MaskChecks
{
    /// <summary>Fraction of kept entries (1 for an empty mask: nothing was pruned).</summary>
    public static double Density(ReadOnlySpan<bool> mask)
    {
        if (mask.IsEmpty) return 1.0;
        int kept = 0;
        foreach (bool k in mask) if (k) kept++;
        return (double)kept / mask.Length;
    }

    /// <summary>Sum of |w| over the kept entries, the quantity the mask algorithms maximise.</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static double KeptMagnitude(ReadOnlySpan<float> weights, ReadOnlySpan<bool> mask)
    {
        if (weights.Length != mask.Length)
            throw new ArgumentException($"weights has {weights.Length} values but the mask {mask.Length}.");
        double sum = 0;
        for (int i = 0; i < weights.Length; i++) if (mask[i]) sum += Math.Abs(weights[i]);
        return sum;
    }

    /// <summary>Whether every group of M consecutive entries of each row keeps exactly N.</summary>
    /// <exception cref="ArgumentException">N:M out of range or a shape that does not match the mask.</exception>
    public static bool IsValidNm(ReadOnlySpan<bool> mask, int rows, int cols, int n, int m)
    {
        MaskArguments.CheckPattern(n, m);
        MaskArguments.CheckShape(mask.Length, rows, cols, "mask");
        if (cols % m != 0) return false;
        for (int g = 0; g < mask.Length; g += m)
        {
            int kept = 0;
            for (int i = 0; i < m; i++) if (mask[g + i]) kept++;
            if (kept != n) return false;
        }
        return true;
    }

    /// <summary>Whether every M x M block keeps exactly N in each of its rows and each of its columns (so W and W^T are both N:M).</summary>
    /// <exception cref="ArgumentException">N:M out of range or a shape that does not match the mask.</exception>
    public static bool IsValidTransposable(ReadOnlySpan<bool> mask, int rows, int cols, int n, int m)
    {
        MaskArguments.CheckPattern(n, m);
        MaskArguments.CheckShape(mask.Length, rows, cols, "mask");
        if (rows % m != 0 || cols % m != 0) return false;
        for (int r = 0; r < rows; r++)
            for (int c0 = 0; c0 < cols; c0 += m)
            {
                int kept = 0;
                for (int j = 0; j < m; j++) if (mask[r * cols + c0 + j]) kept++;
                if (kept != n) return false;
            }
        for (int c = 0; c < cols; c++)
            for (int r0 = 0; r0 < rows; r0 += m)
            {
                int kept = 0;
                for (int i = 0; i < m; i++) if (mask[(r0 + i) * cols + c]) kept++;
                if (kept != n) return false;
            }
        return true;
    }
}
