using System.Numerics.Tensors;

namespace Orchestrator.Trainer.Compression;

/// <summary>
/// The matrix kernels of PowerSGD on row-major spans: M is n x m (a gradient of shape [out, ...] read as
/// [out, prod(rest)]), P is n x r, Q is m x r. The products are vectorized (TensorPrimitives' dot products and
/// multiply-adds, in float as PyTorch's hook computes them) in a fixed order, so a kernel's result depends on its inputs
/// only: every rank that computes from the same P and Q gets the same bits (the allreduce makes them equal).
/// </summary>
public static class LowRankMath
{
    /// <summary>Added to a column's norm before dividing by it, so a zero column stays zero instead of becoming NaN.</summary>
    public const double OrthogonalizationEpsilon = 1e-8;

    /// <summary>Q^T (r x m) from Q (m x r), so the kernels below read each factor column as one contiguous vector.</summary>
    public static void Transpose(ReadOnlySpan<float> q, int cols, int rank, Span<float> qt)
    {
        if (q.Length != cols * rank || qt.Length != cols * rank) throw new ArgumentException($"Q and Q^T must hold {cols} x {rank} values");
        for (int j = 0; j < cols; j++)
            for (int k = 0; k < rank; k++) qt[k * cols + j] = q[j * rank + k];
    }

    /// <summary>P = M Q, from Q^T (<see cref="Transpose"/>): one vectorized dot product per value of P.</summary>
    public static void MultiplyByQ(ReadOnlySpan<float> m, int rows, int cols, ReadOnlySpan<float> qt, int rank, Span<float> p)
    {
        Check(m.Length, rows, cols, qt.Length, cols, p.Length, rows, rank);
        for (int i = 0; i < rows; i++)
        {
            var row = m.Slice(i * cols, cols);
            for (int k = 0; k < rank; k++) p[i * rank + k] = TensorPrimitives.Dot(row, qt.Slice(k * cols, cols));
        }
    }

    /// <summary>Q = M^T P, built as Q^T in <paramref name="qt"/> (r x m): each row of M, scaled by its P values, is added to the
    /// r columns in row order (vectorized multiply-adds), then transposed into <paramref name="q"/> (m x r).</summary>
    public static void MultiplyTransposedByP(ReadOnlySpan<float> m, int rows, int cols, ReadOnlySpan<float> p, int rank, Span<float> q, Span<float> qt)
    {
        Check(m.Length, rows, cols, q.Length, cols, p.Length, rows, rank);
        qt = qt[..(cols * rank)];
        qt.Clear();
        for (int i = 0; i < rows; i++)
        {
            var row = m.Slice(i * cols, cols);
            for (int k = 0; k < rank; k++)
            {
                var column = qt.Slice(k * cols, cols);
                TensorPrimitives.MultiplyAdd(row, p[i * rank + k], column, column);
            }
        }
        for (int j = 0; j < cols; j++)
            for (int k = 0; k < rank; k++) q[j * rank + k] = qt[k * cols + j];
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

    /// <summary>Row <paramref name="i"/> of P Q^T (m values) into <paramref name="row"/>, from Q^T (<see cref="Transpose"/>).</summary>
    public static void ProductRow(ReadOnlySpan<float> p, ReadOnlySpan<float> qt, int i, int rank, Span<float> row)
    {
        int cols = row.Length;
        TensorPrimitives.Multiply(qt[..cols], p[i * rank], row);
        for (int k = 1; k < rank; k++) TensorPrimitives.MultiplyAdd(qt.Slice(k * cols, cols), p[i * rank + k], row, row);
    }

    private static void Check(int mLength, int rows, int cols, int qLength, int qRows, int pLength, int pRows, int rank)
    {
        if (rank < 1) throw new ArgumentOutOfRangeException(nameof(rank), rank, "the rank must be >= 1");
        if (mLength != rows * cols) throw new ArgumentException($"M has {mLength} values, not {rows} x {cols}");
        if (qLength != qRows * rank) throw new ArgumentException($"Q has {qLength} values, not {qRows} x {rank}");
        if (pLength != pRows * rank) throw new ArgumentException($"P has {pLength} values, not {pRows} x {rank}");
    }
}
