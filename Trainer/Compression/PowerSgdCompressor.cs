using System.Runtime.InteropServices;

namespace Orchestrator.Trainer.Compression;

/// <summary>
/// PowerSGD (Vogels, Karimireddy and Jaggi, NeurIPS 2019) for one gradient bucket, as pure logic: no communicator. Each
/// parameter's gradient is read as a matrix M (n x m: shape [out, ...] as [out, prod(rest)]) and approximated by P Q^T of
/// rank r with one step of subspace iteration, warm-started from the previous step's Q. A 1-d tensor, or a matrix whose
/// factors would not be smaller ((n + m) r >= n m), is not factorized: its values are averaged as they are.
/// </summary>
/// <remarks>
/// <para>
/// One step, with the caller's two fp32 sums across the W ranks in between (PowerSgdAllreduce):
/// <see cref="ComputeP"/> writes P = M Q of every matrix, then the plain values, into one buffer; the caller sums it and
/// divides by W; <see cref="OrthogonalizeP"/> makes each P's columns orthonormal; <see cref="ComputeQ"/> writes
/// Q = M^T P; the caller sums and divides that; <see cref="Finish"/> writes P Q^T (and the averaged plain values) over the
/// bucket and M - P Q^T into the residual (error feedback), and stages Q as the next step's warm start. Every rank holds
/// the same P and Q after the sums, so every rank writes the same bits.
/// </para>
/// <para>
/// PowerSGD is biased (E[P Q^T] is not M), so this is no <see cref="IGradientCodec"/>: error feedback makes up for it.
/// The first Q is drawn from N(0, 1) (Box-Muller on <see cref="CodecRandom"/>) with a seed every rank shares. A Q column
/// that comes back all zero (a gradient that was zero along it) would stay zero forever (P = M Q = 0, Q = M^T P = 0), so it
/// is drawn afresh, from the seed and the step: the same on every rank.
/// </para>
/// <para>
/// Staged: the new Q becomes current at <see cref="Commit"/>, so a step that every rank skips (a non-finite gradient)
/// leaves the warm start as it was (<see cref="Discard"/>), with or without <c>compression.overlap</c>.
/// </para>
/// </remarks>
public sealed class PowerSgdCompressor
{
    /// <summary>One factorized gradient: where it sits in the bucket, its shape as a matrix, where its factors sit.</summary>
    public readonly record struct Matrix(int Offset, int Rows, int Cols, int POffset, int QOffset);

    private readonly List<Matrix> matrices = [];
    private readonly List<(int Offset, int Length)> plain = [];
    private readonly ulong seed;
    private float[] q;
    private float[] staged;
    private bool hasStaged;
    private readonly float[] transposed;
    private readonly float[] row;

    /// <param name="shapes">The shapes of the gradients in the bucket, in buffer order.</param>
    /// <param name="rank">r, 1 or more.</param>
    /// <param name="seed">The seed of the first Q (and of redrawn columns); the same on every rank.</param>
    public PowerSgdCompressor(IEnumerable<long[]> shapes, int rank, ulong seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rank, 1);
        Rank = rank;
        this.seed = seed;
        int offset = 0, pOffset = 0, qOffset = 0, widest = 0;
        foreach (var shape in shapes)
        {
            long count = shape.Aggregate(1L, (a, b) => a * b);
            int elements = checked((int)count);
            long rows = shape.Length >= 2 ? shape[0] : 0;
            long cols = rows > 0 ? count / rows : 0;
            if (rows > 0 && cols > 0 && (rows + cols) * rank < rows * cols)
            {
                matrices.Add(new Matrix(offset, (int)rows, (int)cols, pOffset, qOffset));
                pOffset = checked(pOffset + (int)rows * rank);
                qOffset = checked(qOffset + (int)cols * rank);
                widest = Math.Max(widest, (int)cols);
            }
            else if (elements > 0)
            {
                plain.Add((offset, elements));
                PlainLength += elements;
            }
            offset = checked(offset + elements);
        }
        Elements = offset;
        PLength = pOffset;
        QLength = qOffset;
        q = new float[QLength];
        staged = new float[QLength];
        transposed = new float[widest * rank];
        row = new float[widest];
        Reset();
    }

    /// <summary>r.</summary>
    public int Rank { get; }

    /// <summary>Values in the bucket.</summary>
    public int Elements { get; }

    /// <summary>The factorized gradients.</summary>
    public IReadOnlyList<Matrix> Matrices => matrices;

    /// <summary>Values of all P factors (sum of n r).</summary>
    public int PLength { get; }

    /// <summary>Values of all Q factors (sum of m r).</summary>
    public int QLength { get; }

    /// <summary>Values averaged as they are (1-d tensors, matrices too small to factorize).</summary>
    public int PlainLength { get; }

    /// <summary>Length of the first sum's buffer: every P, then the plain values.</summary>
    public int FirstLength => PLength + PlainLength;

    /// <summary>fp32 bytes one rank contributes per step: 4 (sum of (n + m) r + plain values).</summary>
    public int EncodedBytes => checked(sizeof(float) * (PLength + QLength + PlainLength));

    /// <summary>The current warm start: every Q, concatenated.</summary>
    public ReadOnlySpan<float> Q => q;

    /// <summary>Writes every P = M Q, then the plain values of <paramref name="m"/>, into <paramref name="first"/> (<see cref="FirstLength"/>).</summary>
    public void ComputeP(ReadOnlySpan<float> m, Span<float> first)
    {
        CheckLength(m.Length, Elements, "bucket");
        CheckLength(first.Length, FirstLength, "first buffer");
        foreach (var x in matrices)
        {
            var qt = transposed.AsSpan(0, x.Cols * Rank);
            LowRankMath.Transpose(q.AsSpan(x.QOffset, x.Cols * Rank), x.Cols, Rank, qt);
            LowRankMath.MultiplyByQ(m.Slice(x.Offset, x.Rows * x.Cols), x.Rows, x.Cols, qt, Rank, first.Slice(x.POffset, x.Rows * Rank));
        }
        int at = PLength;
        foreach (var (offset, length) in plain)
        {
            m.Slice(offset, length).CopyTo(first[at..]);
            at += length;
        }
    }

    /// <summary>Orthogonalizes the columns of every P in <paramref name="first"/> (after the average).</summary>
    public void OrthogonalizeP(Span<float> first)
    {
        CheckLength(first.Length, FirstLength, "first buffer");
        foreach (var x in matrices)
            LowRankMath.Orthogonalize(first.Slice(x.POffset, x.Rows * Rank), x.Rows, Rank);
    }

    /// <summary>Writes every Q = M^T P into <paramref name="qOut"/> (<see cref="QLength"/>), P from <paramref name="first"/>.</summary>
    public void ComputeQ(ReadOnlySpan<float> m, ReadOnlySpan<float> first, Span<float> qOut)
    {
        CheckLength(m.Length, Elements, "bucket");
        CheckLength(first.Length, FirstLength, "first buffer");
        CheckLength(qOut.Length, QLength, "Q buffer");
        foreach (var x in matrices)
            LowRankMath.MultiplyTransposedByP(m.Slice(x.Offset, x.Rows * x.Cols), x.Rows, x.Cols, first.Slice(x.POffset, x.Rows * Rank), Rank,
                qOut.Slice(x.QOffset, x.Cols * Rank), transposed);
    }

    /// <summary>
    /// Replaces <paramref name="bucket"/> (M on entry) by the average: P Q^T for the matrices, the averaged plain values from
    /// <paramref name="first"/>. With a <paramref name="residual"/> (error feedback, <see cref="Elements"/> values) writes
    /// M - P Q^T there (zero for the plain values, which travel exactly). Stages <paramref name="qAveraged"/> as the next warm
    /// start (zero columns redrawn from <paramref name="step"/>); see <see cref="Commit"/>.
    /// </summary>
    public void Finish(ReadOnlySpan<float> first, ReadOnlySpan<float> qAveraged, Span<float> bucket, Span<float> residual, long step)
    {
        CheckLength(bucket.Length, Elements, "bucket");
        CheckLength(first.Length, FirstLength, "first buffer");
        CheckLength(qAveraged.Length, QLength, "Q buffer");
        if (!residual.IsEmpty) CheckLength(residual.Length, Elements, "residual");
        var approx = row.AsSpan();
        foreach (var x in matrices)
        {
            var p = first.Slice(x.POffset, x.Rows * Rank);
            var qt = transposed.AsSpan(0, x.Cols * Rank);
            LowRankMath.Transpose(qAveraged.Slice(x.QOffset, x.Cols * Rank), x.Cols, Rank, qt);
            for (int i = 0; i < x.Rows; i++)
            {
                var line = approx[..x.Cols];
                LowRankMath.ProductRow(p, qt, i, Rank, line);
                var target = bucket.Slice(x.Offset + i * x.Cols, x.Cols);
                if (!residual.IsEmpty)
                {
                    var error = residual.Slice(x.Offset + i * x.Cols, x.Cols);
                    for (int j = 0; j < line.Length; j++) error[j] = target[j] - line[j];
                }
                line.CopyTo(target);
            }
        }
        int at = PLength;
        foreach (var (offset, length) in plain)
        {
            first.Slice(at, length).CopyTo(bucket.Slice(offset, length));
            if (!residual.IsEmpty) residual.Slice(offset, length).Clear();
            at += length;
        }
        qAveraged.CopyTo(staged);
        RedrawZeroColumns(staged, step);
        hasStaged = true;
    }

    /// <summary>The Q staged by <see cref="Finish"/> becomes the warm start (the step was applied).</summary>
    public void Commit()
    {
        if (!hasStaged) return;
        (q, staged) = (staged, q);
        hasStaged = false;
    }

    /// <summary>Forgets the staged Q (the step was skipped): the warm start stays as it was.</summary>
    public void Discard() => hasStaged = false;

    /// <summary>Back to the first Q drawn from the seed (a fresh start).</summary>
    public void Reset()
    {
        var random = new CodecRandom(seed);
        FillNormal(q, ref random);
        hasStaged = false;
    }

    /// <summary>Replaces the warm start by <paramref name="values"/> (a checkpoint's, <see cref="QLength"/> values).</summary>
    public void Restore(ReadOnlySpan<float> values)
    {
        CheckLength(values.Length, QLength, "restored Q");
        values.CopyTo(q);
        hasStaged = false;
    }

    private void RedrawZeroColumns(Span<float> factors, long step)
    {
        for (int x = 0; x < matrices.Count; x++)
        {
            var matrix = matrices[x];
            var qx = factors.Slice(matrix.QOffset, matrix.Cols * Rank);
            for (int k = 0; k < Rank; k++)
            {
                bool zero = true;
                for (int j = 0; j < matrix.Cols && zero; j++) zero = qx[j * Rank + k] == 0;
                if (!zero) continue;
                var random = new CodecRandom(seed ^ ((ulong)step * 0x9E3779B97F4A7C15UL) ^ ((ulong)x << 40) ^ ((ulong)k << 32) ^ 0x5A17UL);
                for (int j = 0; j < matrix.Cols; j++) qx[j * Rank + k] = NextNormal(ref random);
            }
        }
    }

    private static void FillNormal(Span<float> values, ref CodecRandom random)
    {
        for (int i = 0; i < values.Length; i++) values[i] = NextNormal(ref random);
    }

    /// <summary>One N(0, 1) draw (Box-Muller, the cosine half).</summary>
    private static float NextNormal(ref CodecRandom random)
    {
        double u1 = 1.0 - random.NextFloat(); // (0, 1]: the log stays finite
        double u2 = random.NextFloat();
        return (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
    }

    private static void CheckLength(int actual, int expected, string what)
    {
        if (actual != expected) throw new ArgumentException($"the {what} has {actual} values, PowerSGD's layout of this bucket needs {expected}");
    }

    /// <summary>Bytes of <see cref="WriteQ"/>'s output.</summary>
    public int QBytes => checked(sizeof(float) * QLength);

    /// <summary>Writes the current warm start as little-endian fp32 (<see cref="QBytes"/> bytes).</summary>
    public void WriteQ(Span<byte> output)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("the checkpoint stores Q as little-endian fp32");
        MemoryMarshal.AsBytes(q.AsSpan()).CopyTo(output);
    }

    /// <summary>Reads a warm start written by <see cref="WriteQ"/>.</summary>
    public void ReadQ(ReadOnlySpan<byte> input)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("the checkpoint stores Q as little-endian fp32");
        CheckLength(input.Length / sizeof(float), QLength, "restored Q");
        Restore(MemoryMarshal.Cast<byte, float>(input));
    }
}
