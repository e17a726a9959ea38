using Orchestrator.Trainer.Compression;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Tests.Compression;

/// <summary>
/// PowerSGD's math on one rank, without MPI (<see cref="PowerSgdCompressor"/>, <see cref="LowRankMath"/>): with one rank the
/// averages are the values themselves, so a step is ComputeP, OrthogonalizeP, ComputeQ, Finish.
/// </summary>
public sealed class PowerSgdCompressorTests
{
    /// <summary>A random n x m matrix of exact rank k (A B^T with Gaussian A, B), row-major.</summary>
    private static float[] LowRank(int n, int m, int k, int seed)
    {
        var rng = new Random(seed);
        var a = Gaussian(rng, n * k);
        var b = Gaussian(rng, m * k);
        var result = new float[n * m];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
            {
                double sum = 0;
                for (int x = 0; x < k; x++) sum += (double)a[i * k + x] * b[j * k + x];
                result[i * m + j] = (float)sum;
            }
        return result;
    }

    private static float[] Gaussian(Random rng, int count) =>
        Enumerable.Range(0, count).Select(_ => (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()))).ToArray();

    /// <summary>One step on one rank: <paramref name="values"/> becomes P Q^T (plain values kept), the residual M - P Q^T.</summary>
    private static void Step(PowerSgdCompressor c, Span<float> values, Span<float> residual, long step = 0)
    {
        var first = new float[c.FirstLength];
        var q = new float[c.QLength];
        c.ComputeP(values, first);
        c.OrthogonalizeP(first);
        c.ComputeQ(values, first, q);
        c.Finish(first, q, values, residual, step);
        c.Commit();
    }

    private static double MaxAbs(ReadOnlySpan<float> values)
    {
        double max = 0;
        foreach (var v in values) max = Math.Max(max, Math.Abs(v));
        return max;
    }

    private static double FrobeniusDistance(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++) sum += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        return Math.Sqrt(sum);
    }

    [Theory]
    [InlineData(40, 30, 2, 2)]
    [InlineData(40, 30, 1, 2)] // rank below r: the extra column of P is a dependent one
    [InlineData(64, 48, 3, 4)]
    [InlineData(25, 80, 4, 4)]
    public void A_matrix_of_rank_at_most_r_is_reproduced_to_float_tolerance(int n, int m, int k, int r)
    {
        var matrix = LowRank(n, m, k, seed: n * m + k);
        var values = (float[])matrix.Clone();
        var residual = new float[values.Length];
        var compressor = new PowerSgdCompressor([[n, m]], r, seed: 7);

        Step(compressor, values, residual);

        // Tolerance: 1e-5 of the largest entry (fp32 rounding of sums over m and n terms, done in double).
        double tolerance = 1e-5 * MaxAbs(matrix);
        for (int i = 0; i < matrix.Length; i++)
        {
            Assert.True(Math.Abs(values[i] - matrix[i]) <= tolerance, $"entry {i}: {values[i]} vs {matrix[i]}");
            Assert.True(Math.Abs(residual[i]) <= tolerance, $"residual {i}: {residual[i]}");
        }
    }

    [Fact]
    public void A_matrix_of_rank_above_r_is_not_reproduced()
    {
        // The identity test above must be able to fail: rank 4 through r = 2 loses a lot.
        var matrix = LowRank(40, 30, 4, seed: 3);
        var values = (float[])matrix.Clone();
        Step(new PowerSgdCompressor([[40, 30]], 2, seed: 7), values, default);
        Assert.True(FrobeniusDistance(values, matrix) > 0.1 * FrobeniusDistance(matrix, new float[matrix.Length]));
    }

    [Fact]
    public void Warm_start_converges_to_the_best_rank_r_error_of_Eckart_Young()
    {
        const int n = 48, m = 36, r = 2;
        // M = U diag(s) V^T with a decaying spectrum: the best rank-2 error is sqrt(sum of s_i^2, i > 2).
        var matrix = LowRank(n, m, 12, seed: 5);
        using (var t = tensor(matrix).view(n, m))
        {
            var (u, s, vh) = linalg.svd(t, fullMatrices: false);
            var spectrum = new[] { 10f, 7f, 3.5f, 2f, 1f, 0.7f, 0.5f, 0.3f, 0.2f, 0.1f, 0.05f, 0.02f };
            using var sNew = tensor(spectrum);
            using var left = u.narrow(1, 0, spectrum.Length);
            using var right = vh.narrow(0, 0, spectrum.Length);
            using var rebuilt = left.matmul(diag(sNew)).matmul(right);
            matrix = rebuilt.contiguous().data<float>().ToArray();
            u.Dispose(); s.Dispose(); vh.Dispose();
        }
        double best;
        using (var t = tensor(matrix).view(n, m))
        {
            var (u, s, vh) = linalg.svd(t, fullMatrices: false);
            var singular = s.data<float>().ToArray();
            best = Math.Sqrt(singular.Skip(r).Sum(x => (double)x * x));
            u.Dispose(); s.Dispose(); vh.Dispose();
        }

        var compressor = new PowerSgdCompressor([[n, m]], r, seed: 99);
        var errors = new List<double>();
        for (int step = 0; step < 30; step++)
        {
            var values = (float[])matrix.Clone();
            Step(compressor, values, default, step); // no error feedback: the same M every step
            errors.Add(FrobeniusDistance(values, matrix));
        }

        Assert.True(errors[^1] <= 1.01 * best, $"after 30 steps the error is {errors[^1]:G4}, the best rank-{r} error {best:G4}");
        Assert.True(errors[^1] >= best * (1 - 1e-4), "no rank-r matrix beats Eckart-Young");
        // Warm start is what converges: the first step, from a random Q, is clearly worse.
        Assert.True(errors[0] > 1.05 * best, $"first step {errors[0]:G4} vs best {best:G4}");
    }

    [Fact]
    public void Without_commit_the_warm_start_does_not_advance()
    {
        var matrix = LowRank(30, 20, 6, seed: 9);
        var compressor = new PowerSgdCompressor([[30, 20]], 2, seed: 1);
        var before = compressor.Q.ToArray();
        var values = (float[])matrix.Clone();
        var first = new float[compressor.FirstLength];
        var q = new float[compressor.QLength];
        compressor.ComputeP(values, first);
        compressor.OrthogonalizeP(first);
        compressor.ComputeQ(values, first, q);
        compressor.Finish(first, q, values, default, 0);
        Assert.Equal(before, compressor.Q.ToArray()); // staged only
        compressor.Discard();
        compressor.Commit();
        Assert.Equal(before, compressor.Q.ToArray());
    }

    [Fact]
    public void Error_feedback_telescopes_sent_approximations_plus_the_last_residual_to_the_inputs()
    {
        const int n = 24, m = 40, steps = 25;
        var shapes = new List<long[]> { new long[] { n, m }, new long[] { 16 }, new long[] { 8, 3 } }; // a matrix, a bias, a small matrix
        var compressor = new PowerSgdCompressor(shapes, 2, seed: 4);
        int elements = compressor.Elements;
        var rng = new Random(21);
        var residual = new float[elements];
        var sumInputs = new double[elements];
        var sumSent = new double[elements];
        for (int step = 0; step < steps; step++)
        {
            var gradient = Gaussian(rng, elements);
            var values = new float[elements];
            for (int i = 0; i < elements; i++)
            {
                sumInputs[i] += gradient[i];
                values[i] = gradient[i] + residual[i]; // M = g + e
            }
            Step(compressor, values, residual, step);
            for (int i = 0; i < elements; i++) sumSent[i] += values[i];
        }
        // sum of approximations + final residual == sum of inputs, up to fp32 rounding of each step's M and M - PQ^T.
        double worst = Enumerable.Range(0, elements).Max(i => Math.Abs(sumSent[i] + residual[i] - sumInputs[i]));
        Assert.True(worst < 1e-4 * steps, $"telescoping off by {worst}");
        // And it is not trivial: the residual is far from zero (rank 2 of a 24 x 40 Gaussian loses most of it).
        Assert.True(MaxAbs(residual) > 0.5, "the approximation was exact: nothing telescoped");
    }

    [Fact]
    public void Orthogonalization_gives_orthonormal_columns()
    {
        const int n = 50, r = 4;
        var p = Gaussian(new Random(2), n * r);
        LowRankMath.Orthogonalize(p, n, r);
        AssertOrthonormal(p, n, r, Enumerable.Range(0, r));
    }

    [Fact]
    public void A_zero_or_dependent_column_gives_no_NaN()
    {
        const int n = 30, r = 4;
        var p = Gaussian(new Random(3), n * r);
        for (int i = 0; i < n; i++)
        {
            p[i * r + 1] = 0;                // a zero column
            p[i * r + 3] = 2 * p[i * r + 0]; // a column the first spans
        }
        LowRankMath.Orthogonalize(p, n, r);
        Assert.All(p, v => Assert.True(float.IsFinite(v)));
        for (int i = 0; i < n; i++) Assert.Equal(0f, p[i * r + 1]);
        AssertOrthonormal(p, n, r, [0, 2]);
        // The dependent column is rounding noise scaled up (by 1 / (its norm + epsilon), so at most to unit length):
        // orthogonal to the others, never NaN.
        double Dot(int a, int b) => Enumerable.Range(0, n).Sum(i => (double)p[i * r + a] * p[i * r + b]);
        Assert.True(Math.Abs(Dot(3, 0)) < 1e-5 && Math.Abs(Dot(3, 2)) < 1e-5, $"{Dot(3, 0)}, {Dot(3, 2)}");
        Assert.InRange(Dot(3, 3), 0, 1 + 1e-5);
    }

    private static void AssertOrthonormal(float[] p, int n, int r, IEnumerable<int> columns)
    {
        var list = columns.ToList();
        foreach (int a in list)
            foreach (int b in list)
            {
                double dot = 0;
                for (int i = 0; i < n; i++) dot += (double)p[i * r + a] * p[i * r + b];
                Assert.True(Math.Abs(dot - (a == b ? 1 : 0)) < 1e-5, $"P^T P [{a},{b}] = {dot}");
            }
    }

    [Fact]
    public void Vectors_and_matrices_whose_factors_would_not_be_smaller_travel_plain()
    {
        // r = 2: [64, 3, 3, 3] is 64 x 27 ((64 + 27) 2 = 182 < 1728: factorized); [10] is 1-d; [4, 4]: (4 + 4) 2 = 16 >= 16: plain.
        var compressor = new PowerSgdCompressor([[64, 3, 3, 3], [10], [4, 4]], 2, seed: 0);
        var matrix = Assert.Single(compressor.Matrices);
        Assert.Equal((0, 64, 27), (matrix.Offset, matrix.Rows, matrix.Cols));
        Assert.Equal(64 * 2, compressor.PLength);
        Assert.Equal(27 * 2, compressor.QLength);
        Assert.Equal(10 + 16, compressor.PlainLength);
        Assert.Equal(4 * ((64 + 27) * 2 + 10 + 16), compressor.EncodedBytes);

        // The plain values come back as sent (the average of one rank), bit for bit, with zero residual.
        var values = Gaussian(new Random(8), compressor.Elements);
        var sent = (float[])values.Clone();
        var residual = Enumerable.Repeat(5f, values.Length).ToArray();
        Step(compressor, values, residual);
        Assert.Equal(sent.AsSpan(1728).ToArray(), values.AsSpan(1728).ToArray());
        Assert.All(residual.AsSpan(1728).ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void The_first_Q_depends_on_the_seed_only_and_is_standard_normal()
    {
        var a = new PowerSgdCompressor([[100, 500]], 4, seed: 12).Q.ToArray();
        var b = new PowerSgdCompressor([[100, 500]], 4, seed: 12).Q.ToArray();
        var c = new PowerSgdCompressor([[100, 500]], 4, seed: 13).Q.ToArray();
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        double mean = a.Average(x => (double)x);
        double variance = a.Average(x => ((double)x - mean) * ((double)x - mean));
        // 2000 draws: the mean's standard error is 0.022, the variance's 0.032; 5 sigma.
        Assert.InRange(mean, -0.11, 0.11);
        Assert.InRange(variance, 0.84, 1.16);
    }

    [Fact]
    public void A_zero_gradient_does_not_leave_the_warm_start_stuck_at_zero()
    {
        var compressor = new PowerSgdCompressor([[20, 30]], 2, seed: 6);
        var zero = new float[600];
        Step(compressor, zero, default, step: 0);
        Assert.All(zero, v => Assert.Equal(0f, v));
        Assert.Contains(compressor.Q.ToArray(), v => v != 0); // redrawn, else P = M Q = 0 forever

        var matrix = LowRank(20, 30, 2, seed: 1);
        var values = (float[])matrix.Clone();
        Step(compressor, values, default, step: 1);
        Assert.True(FrobeniusDistance(values, matrix) < 1e-4 * FrobeniusDistance(matrix, new float[600]));
    }
}
