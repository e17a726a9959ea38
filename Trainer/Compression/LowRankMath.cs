namespace Orchestrator.Trainer.Compression;

/// <summary>
/// The matrix kernels of PowerSGD on row-major spans: M is n x m (a gradient of shape [out, ...] read as
/// [out, prod(rest)]), P is n x r, Q is m x r. Sums run in double, in a fixed order, so a kernel's result depends on
/// its inputs only: every rank that computes from the same P and Q gets the same bits (the allreduce makes them equal).
/// </summary>
public static class LowRankMath
{
    /// <summary>Added to a column's norm before dividing by it, so a zero column stays zero instead of becoming NaN.</summary>
    public const double OrthogonalizationEpsilon = 1e-8;

    /// <summary>P = M Q.</summary>
    public static void MultiplyByQ(ReadOnlySpan<float> m, int rows, int cols, ReadOnlySpan<float> q, int rank, Span<float> p)
    {
        Check(m.Length, rows, cols, q.Length, cols, p.Length, rows, rank);
        Span<double> sums = rank <= 64 ? stackalloc double[rank] : new double[rank];
        for (int i = 0; i < rows; i++)
        {
            sums.Clear();
            var row = m.Slice(i * cols, cols);
            for (int j = 0; j < cols; j++)
            {
                double value = row[j];
                var qRow = q.Slice(j * rank, rank);
                for (int k = 0; k < rank; k++) sums[k] += value * qRow[k];
            }
            var pRow = p.Slice(i * rank, rank);
            for (int k = 0; k < rank; k++) pRow[k] = (float)sums[k];
        }
    }

    /// <summary>Q = M^T P; <paramref name="scratch"/> holds at least m x r doubles (the sums, row by row of M).</summary>
    public static void MultiplyTransposedByP(ReadOnlySpan<float> m, int rows, int cols, ReadOnlySpan<float> p, int rank, Span<float> q, Span<double> scratch)
    {
        Check(m.Length, rows, cols, q.Length, cols, p.Length, rows, rank);
        var sums = scratch[..(cols * rank)];
        sums.Clear();
        for (int i = 0; i < rows; i++)
        {
            var row = m.Slice(i * cols, cols);
            var pRow = p.Slice(i * rank, rank);
            for (int j = 0; j < cols; j++)
            {
                double value = row[j];
                var at = sums.Slice(j * rank, rank);
                for (int k = 0; k < rank; k++) at[k] += value * pRow[k];
            }
        }
        for (int x = 0; x < sums.Length; x++) q[x] = (float)sums[x];
    }

    /// <summary>
    /// Gram-Schmidt on the columns of <paramref name="p"/> (n x r), in place, left to right: the earlier columns are removed
    /// from a column twice ("twice is enough": one pass leaves rounding noise that, for a column the earlier ones almost
    /// span, is no longer orthogonal to them), then it is divided by its norm plus <see cref="OrthogonalizationEpsilon"/>.
    /// So P^T P is the identity up to rounding, a zero column comes out zero (never NaN), and a dependent column becomes some
    /// unit direction orthogonal to the others.
    /// </summary>
    public static void Orthogonalize(Span<float> p, int rows, int rank)
    {
        if (p.Length != rows * rank) throw new ArgumentException($"P has {p.Length} values, not {rows} x {rank}", nameof(p));
        for (int k = 0; k < rank; k++)
        {
            for (int pass = 0; pass < 2; pass++)
            {
                for (int l = 0; l < k; l++)
                {
                    double dot = 0;
                    for (int i = 0; i < rows; i++) dot += (double)p[i * rank + l] * p[i * rank + k];
                    for (int i = 0; i < rows; i++) p[i * rank + k] = (float)(p[i * rank + k] - dot * p[i * rank + l]);
                }
            }
            double squares = 0;
            for (int i = 0; i < rows; i++) squares += (double)p[i * rank + k] * p[i * rank + k];
            double scale = 1 / (Math.Sqrt(squares) + OrthogonalizationEpsilon);
            for (int i = 0; i < rows; i++) p[i * rank + k] = (float)(p[i * rank + k] * scale);
        }
    }

    /// <summary>Row <paramref name="i"/> of P Q^T (m values) into <paramref name="row"/>.</summary>
    public static void ProductRow(ReadOnlySpan<float> p, ReadOnlySpan<float> q, int i, int rank, Span<float> row)
    {
        var pRow = p.Slice(i * rank, rank);
        for (int j = 0; j < row.Length; j++)
        {
            var qRow = q.Slice(j * rank, rank);
            double sum = 0;
            for (int k = 0; k < rank; k++) sum += (double)pRow[k] * qRow[k];
            row[j] = (float)sum;
        }
    }

    private static void Check(int mLength, int rows, int cols, int qLength, int qRows, int pLength, int pRows, int rank)
    {
        if (rank < 1) throw new ArgumentOutOfRangeException(nameof(rank), rank, "the rank must be >= 1");
        if (mLength != rows * cols) throw new ArgumentException($"M has {mLength} values, not {rows} x {cols}");
        if (qLength != qRows * rank) throw new ArgumentException($"Q has {qLength} values, not {qRows} x {rank}");
        if (pLength != pRows * rank) throw new ArgumentException($"P has {pLength} values, not {pRows} x {rank}");
    }
}
