using System.Numerics;

namespace Orchestrator.Trainer.Normalization;

/// <summary>
/// Where the ghost batches of an [N, C, L] activation lie: chunk j covers rows
/// [<see cref="Start"/>(j), <see cref="Start"/>(j) + Rows[j]) of the contiguous input.
/// </summary>
/// <param name="Rows">Rows of each chunk, in order (<see cref="GhostBatchNormFunction.ChunkSizes"/>).</param>
/// <param name="Channels">C.</param>
/// <param name="Inner">L: the product of the dims after the channel dim (1 for [N, C]).</param>
internal sealed record GhostChunkLayout(long[] Rows, long Channels, long Inner)
{
    private readonly long[] starts = Starts(Rows);

    /// <summary>Chunks (k).</summary>
    public int Chunks => Rows.Length;

    /// <summary>First row of chunk <paramref name="chunk"/>.</summary>
    public long Start(int chunk) => starts[chunk];

    /// <summary>Values one (chunk, channel) statistic is taken over.</summary>
    public long Count(int chunk) => Rows[chunk] * Inner;

    private static long[] Starts(long[] rows)
    {
        var starts = new long[rows.Length];
        for (int j = 1; j < rows.Length; j++) starts[j] = starts[j - 1] + rows[j - 1];
        return starts;
    }
}

/// <summary>
/// Ghost batch norm's forward and backward as fused float32 CPU loops over the input in place: the chunks
/// are contiguous along dim 0, so every (chunk, channel) pair is a strided set of contiguous runs of L
/// values, read directly, with no permuted copy.
/// </summary>
/// <remarks>
/// One task handles one chunk and a few neighbouring channels (enough that its runs span at least a cache
/// line when L is small). It makes all its passes over the same values back to back (forward: mean,
/// squared deviations, output; backward: the two sums, then the input gradient), so the later passes
/// find the values in the core's cache: a ghost batch of 64 rows of 28x28 is 200 KB per channel.
/// Sums are taken in float over at most <see cref="FlushEvery"/> values and accumulated in double; the
/// variance is the mean squared deviation from the mean (two passes, as ATen's batch norm), so a large
/// mean does not cancel the variance away.
/// </remarks>
internal static unsafe class GhostBatchNormKernels
{
    /// <summary>Values summed in float before the partial sum goes into a double.</summary>
    private const int FlushEvery = 1024;

    /// <summary>The fewest values (one cache line of floats) a task's runs should cover, channels grouped when L is smaller.</summary>
    private const long MinimumRun = 16;

    /// <summary>
    /// Normalizes every chunk of <paramref name="x"/> by its own statistics into <paramref name="y"/>:
    /// y = (x - mean) / sqrt(var + eps) * gamma + beta per (chunk, channel), var biased.
    /// </summary>
    /// <param name="weight">gamma [C], or null for 1.</param>
    /// <param name="bias">beta [C], or null for 0.</param>
    /// <param name="mean">Out: each chunk's mean, [k * C] row-major.</param>
    /// <param name="biasedVar">Out: each chunk's biased variance, [k * C].</param>
    /// <param name="invStd">Out: 1 / sqrt(biasedVar + eps), [k * C], for the backward pass.</param>
    /// <param name="threads">Most tasks run at once.</param>
    public static void Forward(float* x, float* y, GhostChunkLayout layout, float[]? weight, float[]? bias, double eps,
        double[] mean, double[] biasedVar, double[] invStd, int threads)
    {
        nint px = (nint)x, py = (nint)y;
        long channels = layout.Channels, inner = layout.Inner;
        Run(layout, threads, (chunk, c) =>
        {
            float* xs = (float*)px, ys = (float*)py;
            long rows = layout.Rows[chunk], start = layout.Start(chunk), n = layout.Count(chunk);
            double sum = 0;
            for (long r = 0; r < rows; r++) sum += Sum(xs + ((start + r) * channels + c) * inner, inner);
            double m = sum / n;
            float mf = (float)m;
            double squares = 0;
            for (long r = 0; r < rows; r++) squares += SquaredDeviations(xs + ((start + r) * channels + c) * inner, inner, mf);
            // Deviations were taken from the float mean: sum (x - m)^2 = sum (x - mf)^2 - n (m - mf)^2.
            double variance = Math.Max(0, squares / n - (m - mf) * (m - mf));
            double istd = 1 / Math.Sqrt(variance + eps);
            double scale = (weight?[c] ?? 1) * istd;
            double shift = (bias?[c] ?? 0) - m * scale;
            for (long r = 0; r < rows; r++)
            {
                long offset = ((start + r) * channels + c) * inner;
                Affine(xs + offset, ys + offset, inner, (float)scale, (float)shift);
            }
            long at = chunk * channels + c;
            mean[at] = m;
            biasedVar[at] = variance;
            invStd[at] = istd;
        });
    }

    /// <summary>
    /// Gradients of <see cref="Forward"/>: <paramref name="dx"/> from the output gradient <paramref name="dy"/>
    /// (batch norm's gradient within each chunk), and each chunk's contribution to gamma's and beta's gradients.
    /// </summary>
    /// <param name="mean">The chunks' means from the forward pass.</param>
    /// <param name="invStd">The chunks' 1 / sqrt(var + eps) from the forward pass.</param>
    /// <param name="weightGrad">Out: sum(dy * xhat) per (chunk, channel), [k * C].</param>
    /// <param name="biasGrad">Out: sum(dy) per (chunk, channel), [k * C].</param>
    public static void Backward(float* dy, float* x, float* dx, GhostChunkLayout layout, float[]? weight,
        double[] mean, double[] invStd, double[] weightGrad, double[] biasGrad, int threads)
    {
        nint pdy = (nint)dy, px = (nint)x, pdx = (nint)dx;
        long channels = layout.Channels, inner = layout.Inner;
        Run(layout, threads, (chunk, c) =>
        {
            float* dys = (float*)pdy, xs = (float*)px, dxs = (float*)pdx;
            long rows = layout.Rows[chunk], start = layout.Start(chunk), n = layout.Count(chunk);
            long at = chunk * channels + c;
            double m = mean[at], istd = invStd[at];
            float mf = (float)m;
            double sumDy = 0, sumDyCentered = 0;
            for (long r = 0; r < rows; r++)
            {
                long offset = ((start + r) * channels + c) * inner;
                var (runSum, runDot) = SumAndDot(dys + offset, xs + offset, inner, mf);
                sumDy += runSum;
                sumDyCentered += runDot;
            }
            // Centred on the float mean: sum dy (x - m) = sum dy (x - mf) - (m - mf) sum dy.
            sumDyCentered -= (m - mf) * sumDy;
            double gamma = weight?[c] ?? 1;
            // dx = gamma istd (dy - mean(dy) - xhat mean(dy xhat)) = a dy + b x + (d - b m)
            double a = gamma * istd;
            double b = -gamma * istd * istd * istd * sumDyCentered / n;
            double d = -a * sumDy / n;
            float fa = (float)a, fb = (float)b, fc = (float)(d - b * m);
            for (long r = 0; r < rows; r++)
            {
                long offset = ((start + r) * channels + c) * inner;
                Combine(dys + offset, xs + offset, dxs + offset, inner, fa, fb, fc);
            }
            weightGrad[at] = sumDyCentered * istd;
            biasGrad[at] = sumDy;
        });
    }

    /// <summary>Runs <paramref name="body"/>(chunk, channel) for every pair, a task per chunk and group of channels.</summary>
    private static void Run(GhostChunkLayout layout, int threads, Action<int, long> body)
    {
        long channels = layout.Channels;
        long group = Math.Min(channels, Math.Max(1, (MinimumRun + layout.Inner - 1) / layout.Inner));
        long groupsPerChunk = (channels + group - 1) / group;
        long tasks = layout.Chunks * groupsPerChunk;
        void Task(long t)
        {
            int chunk = (int)(t / groupsPerChunk);
            long first = t % groupsPerChunk * group, end = Math.Min(channels, first + group);
            for (long c = first; c < end; c++) body(chunk, c);
        }
        if (threads <= 1 || tasks == 1)
            for (long t = 0; t < tasks; t++) Task(t);
        else
            Parallel.For(0L, tasks, new ParallelOptions { MaxDegreeOfParallelism = threads }, Task);
    }

    private static double Sum(float* p, long n)
    {
        double total = 0;
        for (long begin = 0; begin < n; begin += FlushEvery)
        {
            long end = Math.Min(n, begin + FlushEvery), i = begin;
            var s0 = Vector<float>.Zero;
            var s1 = Vector<float>.Zero;
            int w = Vector<float>.Count;
            for (; i + 2 * w <= end; i += 2 * w)
            {
                s0 += Vector.Load(p + i);
                s1 += Vector.Load(p + i + w);
            }
            for (; i + w <= end; i += w) s0 += Vector.Load(p + i);
            float partial = Vector.Sum(s0 + s1);
            for (; i < end; i++) partial += p[i];
            total += partial;
        }
        return total;
    }

    private static double SquaredDeviations(float* p, long n, float m)
    {
        double total = 0;
        var vm = new Vector<float>(m);
        for (long begin = 0; begin < n; begin += FlushEvery)
        {
            long end = Math.Min(n, begin + FlushEvery), i = begin;
            var s0 = Vector<float>.Zero;
            var s1 = Vector<float>.Zero;
            int w = Vector<float>.Count;
            for (; i + 2 * w <= end; i += 2 * w)
            {
                var d0 = Vector.Load(p + i) - vm;
                var d1 = Vector.Load(p + i + w) - vm;
                s0 = Vector.FusedMultiplyAdd(d0, d0, s0);
                s1 = Vector.FusedMultiplyAdd(d1, d1, s1);
            }
            for (; i + w <= end; i += w)
            {
                var d0 = Vector.Load(p + i) - vm;
                s0 = Vector.FusedMultiplyAdd(d0, d0, s0);
            }
            float partial = Vector.Sum(s0 + s1);
            for (; i < end; i++) partial += (p[i] - m) * (p[i] - m);
            total += partial;
        }
        return total;
    }

    /// <summary>y = x * scale + shift.</summary>
    private static void Affine(float* x, float* y, long n, float scale, float shift)
    {
        var vs = new Vector<float>(scale);
        var vt = new Vector<float>(shift);
        long i = 0;
        int w = Vector<float>.Count;
        for (; i + w <= n; i += w) Vector.Store(Vector.FusedMultiplyAdd(Vector.Load(x + i), vs, vt), y + i);
        for (; i < n; i++) y[i] = MathF.FusedMultiplyAdd(x[i], scale, shift);
    }

    /// <summary>(sum dy, sum dy (x - m)).</summary>
    private static (double sum, double dot) SumAndDot(float* dy, float* x, long n, float m)
    {
        double sum = 0, dot = 0;
        var vm = new Vector<float>(m);
        for (long begin = 0; begin < n; begin += FlushEvery)
        {
            long end = Math.Min(n, begin + FlushEvery), i = begin;
            var s = Vector<float>.Zero;
            var t = Vector<float>.Zero;
            int w = Vector<float>.Count;
            for (; i + w <= end; i += w)
            {
                var g = Vector.Load(dy + i);
                s += g;
                t = Vector.FusedMultiplyAdd(g, Vector.Load(x + i) - vm, t);
            }
            float ps = Vector.Sum(s), pd = Vector.Sum(t);
            for (; i < end; i++)
            {
                ps += dy[i];
                pd += dy[i] * (x[i] - m);
            }
            sum += ps;
            dot += pd;
        }
        return (sum, dot);
    }

    /// <summary>dx = a dy + b x + c.</summary>
    private static void Combine(float* dy, float* x, float* dx, long n, float a, float b, float c)
    {
        var va = new Vector<float>(a);
        var vb = new Vector<float>(b);
        var vc = new Vector<float>(c);
        long i = 0;
        int w = Vector<float>.Count;
        for (; i + w <= n; i += w)
            Vector.Store(Vector.FusedMultiplyAdd(Vector.Load(dy + i), va, Vector.FusedMultiplyAdd(Vector.Load(x + i), vb, vc)), dx + i);
        for (; i < n; i++) dx[i] = MathF.FusedMultiplyAdd(dy[i], a, MathF.FusedMultiplyAdd(x[i], b, c));
    }
}
