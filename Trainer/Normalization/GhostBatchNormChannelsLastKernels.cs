using System.Numerics;

namespace Orchestrator.Trainer.Normalization;

/// <summary>
/// <see cref="GhostBatchNormKernels"/> for channels-last (NHWC) activations, whose memory is [N, L, C] with the channel
/// fastest: chunk j is the contiguous block of positions [Start(j) * L, (Start(j) + Rows[j]) * L), and every position
/// holds the C channel values side by side, so the per-channel sums run along the channel vector.
/// </summary>
/// <remarks>
/// Why a second layout: channels-last convolutions (<c>ChannelsLastConv2d</c>) hand ghost batch norm NHWC activations,
/// and the NCHW kernels would need a permuted copy each way. Each chunk is cut into position slices of a fixed size, so that even one
/// ghost batch keeps every thread busy and the result does not depend on the thread count; a pass sums per (slice, channel), the slices' partial sums are added per chunk,
/// then the next pass runs. Precision as the NCHW kernels: sums in float over at most <see cref="FlushEvery"/>
/// positions, accumulated in double; the variance is the mean squared deviation from the float mean, corrected.
/// </remarks>
internal static unsafe class GhostBatchNormChannelsLastKernels
{
    private const int FlushEvery = 1024;

    /// <summary>Values per slice (a task): enough to be worth scheduling, few enough that one ghost batch keeps every thread busy.</summary>
    private const long SliceValues = 64 * 1024;

    /// <summary>As <see cref="GhostBatchNormKernels.Forward"/>, on [N, L, C] memory.</summary>
    public static void Forward(float* x, float* y, GhostChunkLayout layout, float[]? weight, float[]? bias, double eps,
        double[] mean, double[] biasedVar, double[] invStd, int threads)
    {
        nint px = (nint)x, py = (nint)y;
        int channels = checked((int)layout.Channels);
        var slices = Slice(layout);
        var partial = new double[slices.Length * channels];
        Run(slices, threads, (s, slice) => Sums((float*)px, slice, channels, partial.AsSpan(s * channels, channels)));
        var floatMean = new float[layout.Chunks * channels];
        Reduce(slices, partial, channels, layout, (at, n, sum) =>
        {
            mean[at] = sum / n;
            floatMean[at] = (float)mean[at];
        });
        Array.Clear(partial);
        Run(slices, threads, (s, slice) => SquaredDeviations((float*)px, slice, channels,
            floatMean.AsSpan(slice.Chunk * channels, channels), partial.AsSpan(s * channels, channels)));
        var scale = new float[layout.Chunks * channels];
        var shift = new float[layout.Chunks * channels];
        Reduce(slices, partial, channels, layout, (at, n, squares) =>
        {
            double m = mean[at], mf = floatMean[at];
            double variance = Math.Max(0, squares / n - (m - mf) * (m - mf));
            double istd = 1 / Math.Sqrt(variance + eps);
            int c = (int)(at % channels);
            double a = (weight?[c] ?? 1) * istd;
            biasedVar[at] = variance;
            invStd[at] = istd;
            scale[at] = (float)a;
            shift[at] = (float)((bias?[c] ?? 0) - m * a);
        });
        Run(slices, threads, (s, slice) => Affine((float*)px, (float*)py, slice, channels,
            scale.AsSpan(slice.Chunk * channels, channels), shift.AsSpan(slice.Chunk * channels, channels)));
    }

    /// <summary>As <see cref="GhostBatchNormKernels.Backward"/>, on [N, L, C] memory.</summary>
    public static void Backward(float* dy, float* x, float* dx, GhostChunkLayout layout, float[]? weight,
        double[] mean, double[] invStd, double[] weightGrad, double[] biasGrad, int threads)
    {
        nint pdy = (nint)dy, px = (nint)x, pdx = (nint)dx;
        int channels = checked((int)layout.Channels);
        var slices = Slice(layout);
        var floatMean = Array.ConvertAll(mean, m => (float)m);
        var partialSum = new double[slices.Length * channels];
        var partialDot = new double[slices.Length * channels];
        Run(slices, threads, (s, slice) => SumsAndDots((float*)pdy, (float*)px, slice, channels,
            floatMean.AsSpan(slice.Chunk * channels, channels), partialSum.AsSpan(s * channels, channels), partialDot.AsSpan(s * channels, channels)));
        Reduce(slices, partialSum, channels, layout, (at, _, sum) => biasGrad[at] = sum);
        var a = new float[mean.Length];
        var b = new float[mean.Length];
        var k = new float[mean.Length];
        Reduce(slices, partialDot, channels, layout, (at, n, dot) =>
        {
            double m = mean[at], istd = invStd[at], sumDy = biasGrad[at];
            // Centred on the float mean: sum dy (x - m) = sum dy (x - mf) - (m - mf) sum dy.
            double centered = dot - (m - floatMean[at]) * sumDy;
            double gamma = weight?[(int)(at % channels)] ?? 1;
            double fa = gamma * istd;
            double fb = -gamma * istd * istd * istd * centered / n;
            a[at] = (float)fa;
            b[at] = (float)fb;
            k[at] = (float)(-fa * sumDy / n - fb * m);
            weightGrad[at] = centered * istd;
        });
        Run(slices, threads, (s, slice) => Combine((float*)pdy, (float*)px, (float*)pdx, slice, channels,
            a.AsSpan(slice.Chunk * channels, channels), b.AsSpan(slice.Chunk * channels, channels), k.AsSpan(slice.Chunk * channels, channels)));
    }

    /// <summary>A run of positions [First, End) inside one chunk.</summary>
    private readonly record struct PositionSlice(int Chunk, long First, long End);

    /// <summary>Cuts each chunk into slices of about <see cref="SliceValues"/> values: the cut (and so every sum's
    /// grouping, down to the last bit) does not depend on the thread count.</summary>
    private static PositionSlice[] Slice(GhostChunkLayout layout)
    {
        var slices = new List<PositionSlice>();
        for (int j = 0; j < layout.Chunks; j++)
        {
            long first = layout.Start(j) * layout.Inner, count = layout.Rows[j] * layout.Inner;
            long pieces = Math.Clamp(count * layout.Channels / SliceValues, 1, count);
            for (long s = 0; s < pieces; s++)
                slices.Add(new PositionSlice(j, first + count * s / pieces, first + count * (s + 1) / pieces));
        }
        return [.. slices];
    }

    private static void Run(PositionSlice[] slices, int threads, Action<int, PositionSlice> body)
    {
        if (threads <= 1 || slices.Length == 1)
            for (int s = 0; s < slices.Length; s++) body(s, slices[s]);
        else
            Parallel.For(0, slices.Length, new ParallelOptions { MaxDegreeOfParallelism = threads }, s => body(s, slices[s]));
    }

    /// <summary>Adds the slices' partial sums per (chunk, channel) and hands each total to <paramref name="use"/>(at, count, total).</summary>
    private static void Reduce(PositionSlice[] slices, double[] partial, int channels, GhostChunkLayout layout, Action<long, long, double> use)
    {
        var totals = new double[layout.Chunks * channels];
        for (int s = 0; s < slices.Length; s++)
            for (int c = 0; c < channels; c++)
                totals[slices[s].Chunk * channels + c] += partial[s * channels + c];
        for (int j = 0; j < layout.Chunks; j++)
            for (int c = 0; c < channels; c++)
                use((long)j * channels + c, layout.Count(j), totals[j * channels + c]);
    }

    private static void Sums(float* x, PositionSlice slice, int channels, Span<double> sums)
    {
        var acc = new float[channels];
        fixed (float* pa = acc)
        {
            for (long begin = slice.First; begin < slice.End; begin += FlushEvery)
            {
                long end = Math.Min(slice.End, begin + FlushEvery);
                Array.Clear(acc);
                for (long p = begin; p < end; p++) AddTo(pa, x + p * channels, channels);
                for (int c = 0; c < channels; c++) sums[c] += acc[c];
            }
        }
    }

    private static void SquaredDeviations(float* x, PositionSlice slice, int channels, ReadOnlySpan<float> mean, Span<double> sums)
    {
        var acc = new float[channels];
        fixed (float* pa = acc)
        fixed (float* pm = mean)
        {
            int w = Vector<float>.Count;
            for (long begin = slice.First; begin < slice.End; begin += FlushEvery)
            {
                long end = Math.Min(slice.End, begin + FlushEvery);
                Array.Clear(acc);
                for (long p = begin; p < end; p++)
                {
                    float* row = x + p * channels;
                    int c = 0;
                    for (; c + w <= channels; c += w)
                    {
                        var d = Vector.Load(row + c) - Vector.Load(pm + c);
                        Vector.Store(Vector.FusedMultiplyAdd(d, d, Vector.Load(pa + c)), pa + c);
                    }
                    for (; c < channels; c++) pa[c] += (row[c] - pm[c]) * (row[c] - pm[c]);
                }
                for (int c = 0; c < channels; c++) sums[c] += acc[c];
            }
        }
    }

    private static void Affine(float* x, float* y, PositionSlice slice, int channels, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift)
    {
        fixed (float* ps = scale)
        fixed (float* pt = shift)
        {
            int w = Vector<float>.Count;
            for (long p = slice.First; p < slice.End; p++)
            {
                float* xs = x + p * channels, ys = y + p * channels;
                int c = 0;
                for (; c + w <= channels; c += w)
                    Vector.Store(Vector.FusedMultiplyAdd(Vector.Load(xs + c), Vector.Load(ps + c), Vector.Load(pt + c)), ys + c);
                for (; c < channels; c++) ys[c] = MathF.FusedMultiplyAdd(xs[c], ps[c], pt[c]);
            }
        }
    }

    private static void SumsAndDots(float* dy, float* x, PositionSlice slice, int channels, ReadOnlySpan<float> mean, Span<double> sums, Span<double> dots)
    {
        var accSum = new float[channels];
        var accDot = new float[channels];
        fixed (float* ps = accSum)
        fixed (float* pd = accDot)
        fixed (float* pm = mean)
        {
            int w = Vector<float>.Count;
            for (long begin = slice.First; begin < slice.End; begin += FlushEvery)
            {
                long end = Math.Min(slice.End, begin + FlushEvery);
                Array.Clear(accSum);
                Array.Clear(accDot);
                for (long p = begin; p < end; p++)
                {
                    float* g = dy + p * channels, xs = x + p * channels;
                    int c = 0;
                    for (; c + w <= channels; c += w)
                    {
                        var vg = Vector.Load(g + c);
                        Vector.Store(Vector.Load(ps + c) + vg, ps + c);
                        Vector.Store(Vector.FusedMultiplyAdd(vg, Vector.Load(xs + c) - Vector.Load(pm + c), Vector.Load(pd + c)), pd + c);
                    }
                    for (; c < channels; c++)
                    {
                        ps[c] += g[c];
                        pd[c] += g[c] * (xs[c] - pm[c]);
                    }
                }
                for (int c = 0; c < channels; c++)
                {
                    sums[c] += accSum[c];
                    dots[c] += accDot[c];
                }
            }
        }
    }

    /// <summary>dx = a dy + b x + k per channel.</summary>
    private static void Combine(float* dy, float* x, float* dx, PositionSlice slice, int channels, ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> k)
    {
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pk = k)
        {
            int w = Vector<float>.Count;
            for (long p = slice.First; p < slice.End; p++)
            {
                float* g = dy + p * channels, xs = x + p * channels, out_ = dx + p * channels;
                int c = 0;
                for (; c + w <= channels; c += w)
                    Vector.Store(Vector.FusedMultiplyAdd(Vector.Load(g + c), Vector.Load(pa + c),
                        Vector.FusedMultiplyAdd(Vector.Load(xs + c), Vector.Load(pb + c), Vector.Load(pk + c))), out_ + c);
                for (; c < channels; c++) out_[c] = MathF.FusedMultiplyAdd(g[c], pa[c], MathF.FusedMultiplyAdd(xs[c], pb[c], pk[c]));
            }
        }
    }

    /// <summary>acc += row, channel by channel.</summary>
    private static void AddTo(float* acc, float* row, int channels)
    {
        int w = Vector<float>.Count, c = 0;
        for (; c + w <= channels; c += w) Vector.Store(Vector.Load(acc + c) + Vector.Load(row + c), acc + c);
        for (; c < channels; c++) acc[c] += row[c];
    }
}
