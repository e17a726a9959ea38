namespace Orchestrator.Tests.Sparsity;

/// <summary>Seeded weights for the mask tests: Gaussian-like values with mixed signs, as trained weights are.</summary>
internal static class SparsityTestData
{
    public static float[] Weights(int count, int seed)
    {
        var rng = new Random(seed);
        var w = new float[count];
        for (int i = 0; i < count; i++)
        {
            // Box-Muller: magnitudes spread over a few orders, signs both ways.
            double u = 1.0 - rng.NextDouble(), v = rng.NextDouble();
            w[i] = (float)(Math.Sqrt(-2 * Math.Log(u)) * Math.Cos(2 * Math.PI * v));
        }
        return w;
    }

    /// <summary>The kept count of each row and each column of one M x M block of a [rows, cols] mask.</summary>
    public static (int[] Rows, int[] Cols) BlockCounts(bool[] mask, int cols, int r0, int c0, int m)
    {
        var rows = new int[m];
        var cs = new int[m];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < m; j++)
                if (mask[(r0 + i) * cols + c0 + j]) { rows[i]++; cs[j]++; }
        return (rows, cs);
    }
}
