using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Normalization;

/// <summary>
/// Range batch normalization as a stateless function (ALGORITHMS.md section 5, Banner et al.): per channel,
/// mu = the mean of the batch's values and sigma^ = C(n) x (mean of chunk maxima - mean of chunk minima) over
/// <see cref="DefaultChunks"/> chunks of the channel's values; y = (x - mu) / (sigma^ + eps) x gamma + beta.
/// A range needs no squares and no square root, which is what lets the paper keep the normalization in 8 bits.
/// </summary>
/// <remarks>
/// <para>A channel's values are taken in memory order (row by row, then the spatial positions of each row, as
/// the reference code's <c>x.transpose(0, 1).view(C, chunks, -1)</c>), so a chunk is a run of consecutive rows
/// whenever the rows divide evenly. When they do not, the first <c>values % chunks</c> chunks take one value
/// more and each chunk's range is scaled by its own C(n): sigma^ is the mean of the per-chunk estimates (equal
/// chunks: exactly the reference's formula). Fewer than 2 x chunks values per channel use values / 2 chunks,
/// so every chunk has a range.</para>
/// <para>With a ghost batch size, every ghost batch (contiguous rows along dim 0, the remainder folded into the
/// last one as <see cref="GhostBatchNormFunction.ChunkSizes"/> does) gets its own mu and sigma^, and the running
/// statistics are updated once per ghost batch, as ghost batch norm does with mean and variance.</para>
/// <para>Gradients flow through mu and sigma^ as through the reference's autograd graph: the range's gradient
/// goes to the elements that are a chunk's maximum or minimum (shared equally by ties).</para>
/// </remarks>
public static class RangeBatchNormFunction
{
    /// <summary>Chunks per channel (the paper's and the reference code's 16).</summary>
    public const int DefaultChunks = 16;

    /// <summary>Weight of each (ghost) batch's statistics in the running update (BatchNorm's convention and value).</summary>
    public const double DefaultMomentum = 0.1;

    /// <summary>Added to sigma^ (not to a variance: there is none).</summary>
    public const double DefaultEps = 1e-5;

    /// <summary>
    /// The reference code's numerator of C(n), 0.5 x 0.35 x (1 + sqrt(pi ln 4)) = 0.5402: with it, C(n) x the
    /// expected range of n standard normal values is within a few percent of 1 for the chunk sizes of real
    /// layers (0.94 at n = 1024), where the paper's asymptotic 1/sqrt(2 ln n) alone gives about 1.75.
    /// </summary>
    public static readonly double ScaleNumerator = 0.5 * 0.35 * (1 + Math.Sqrt(Math.PI * Math.Log(4)));

    /// <summary>C(n) = 0.5402 / sqrt(2 ln n): turns the range of <paramref name="n"/> values into a standard-deviation estimate.</summary>
    public static double ScaleFactor(long n)
    {
        if (n < 2) throw new ArgumentOutOfRangeException(nameof(n), n, "a range needs at least 2 values");
        return ScaleNumerator / Math.Sqrt(2 * Math.Log(n));
    }

    /// <summary>Chunks the <paramref name="values"/> of one channel are split into: <paramref name="chunks"/>, or fewer so that every chunk holds 2 values or more.</summary>
    public static int ChunkCount(long values, int chunks)
    {
        if (chunks < 1) throw new ArgumentOutOfRangeException(nameof(chunks), chunks, "need at least one chunk");
        if (values < 2)
            throw new ArgumentException($"range batch norm needs at least 2 values per channel in every (ghost) batch, got {values}", nameof(values));
        return (int)Math.Min(chunks, values / 2);
    }

    /// <summary>
    /// Range batch norm of <paramref name="input"/> ([N, C] or [N, C, *]).
    /// </summary>
    /// <param name="input">Activations; dim 0 is the batch, dim 1 the channels.</param>
    /// <param name="runningMean">Running mean [C], updated in place in training; required in eval.</param>
    /// <param name="runningStd">Running sigma^ [C], updated in place in training; required in eval.</param>
    /// <param name="weight">gamma [C]; null for none.</param>
    /// <param name="bias">beta [C]; null for none.</param>
    /// <param name="training">Training normalizes by the batch's (or each ghost batch's) statistics; eval by the running ones.</param>
    /// <param name="ghostBatch">Rows per ghost batch; <see cref="long.MaxValue"/> for the whole batch.</param>
    /// <param name="chunks">Chunks per channel for the range.</param>
    /// <param name="momentum">Weight of each (ghost) batch's statistics in the running update.</param>
    /// <param name="eps">Added to sigma^.</param>
    /// <returns>The normalized activations, same shape as the input; differentiable in input, weight and bias.</returns>
    public static Tensor Forward(Tensor input, Tensor? runningMean, Tensor? runningStd, Tensor? weight, Tensor? bias,
        bool training, long ghostBatch = long.MaxValue, int chunks = DefaultChunks, double momentum = DefaultMomentum, double eps = DefaultEps)
    {
        if (input.dim() < 2) throw new ArgumentException($"range batch norm needs [N, C, ...] input, got {input.dim()} dims", nameof(input));
        if ((runningMean is null) != (runningStd is null)) throw new ArgumentException("give both running statistics or neither");
        long rows = input.shape[0], channels = input.shape[1];
        using var scope = NewDisposeScope();
        var x = input.reshape(rows, channels, -1); // [N, C, L]; L = 1 for [N, C]
        if (!training)
        {
            if (runningMean is null || runningStd is null)
                throw new ArgumentException("eval mode normalizes with the running statistics; none were given");
            var y = Normalize(x.unsqueeze(0), runningMean.unsqueeze(0), runningStd.unsqueeze(0), weight, bias, eps);
            return y.reshape(input.shape).MoveToOuterDisposeScope();
        }

        var sizes = GhostBatchNormFunction.ChunkSizes(rows, ghostBatch);
        long ghost = sizes[0];
        long equal = sizes[^1] == ghost ? sizes.Length : sizes.Length - 1; // ghost batches of exactly `ghost` rows
        // At most two groups of equal ghost batches: those of exactly `ghost` rows, and the last one when the
        // remainder made it longer.
        var groups = new List<(long start, long count, long size)>();
        if (equal > 0) groups.Add((0, equal, ghost));
        if (equal < sizes.Length) groups.Add((equal * ghost, 1, sizes[^1]));
        var outputs = new List<Tensor>();
        var means = new List<Tensor>();
        var stds = new List<Tensor>();
        foreach (var (start, count, size) in groups)
        {
            var group = x.narrow(0, start, count * size).view(count, size, channels, -1); // [k, g, C, L]
            var (mean, std) = Statistics(group, chunks);
            outputs.Add(Normalize(group, mean, std, weight, bias, eps).reshape(count * size, channels, -1));
            means.Add(mean);
            stds.Add(std);
        }

        if (runningMean is not null && runningStd is not null)
        {
            using var _ = no_grad();
            GhostBatchNormFunction.UpdateRunning(runningMean, cat(means, 0).detach(), momentum);
            GhostBatchNormFunction.UpdateRunning(runningStd, cat(stds, 0).detach(), momentum);
        }

        var output = outputs.Count == 1 ? outputs[0] : cat(outputs, 0);
        return output.reshape(input.shape).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// mu and sigma^ of each of k equal ghost batches of <paramref name="x"/> [k, g, C, L], per channel: [k, C] each,
    /// differentiable in x.
    /// </summary>
    internal static (Tensor mean, Tensor std) Statistics(Tensor x, int chunks)
    {
        long k = x.shape[0], g = x.shape[1], channels = x.shape[2], l = x.shape[3];
        long values = g * l;
        int r = ChunkCount(values, chunks);
        var mean = x.mean([1, 3]);
        if (g % r == 0)
        {
            // Chunks of whole rows: reduce in place, no copy.
            var rowChunks = x.view(k, r, g / r, channels, l);
            var ranges = rowChunks.amax([2, 4]) - rowChunks.amin([2, 4]); // [k, r, C]
            return (mean, ranges.mean([1]) * ScaleFactor(values / r));
        }

        // Chunks cut rows: each channel's values in order, then (values % r) chunks of q + 1 values and the rest of q.
        var flat = x.permute(0, 2, 1, 3).reshape(k, channels, values);
        long q = values / r, longer = values % r;
        Tensor? sum = null;
        foreach (var (offset, count, size) in new[] { (0L, longer, q + 1), (longer * (q + 1), r - longer, q) })
        {
            if (count == 0) continue;
            var part = flat.narrow(2, offset, count * size).reshape(k, channels, count, size);
            var scaled = (part.amax([3]) - part.amin([3])).sum([2]) * ScaleFactor(size);
            sum = sum is null ? scaled : sum + scaled;
        }
        return (mean, sum! / r);
    }

    /// <summary>(x - mean) / (std + eps) x gamma + beta for x [k, g, C, L] and statistics [k, C], as x a + b with a and b per (k, C).</summary>
    private static Tensor Normalize(Tensor x, Tensor mean, Tensor std, Tensor? weight, Tensor? bias, double eps)
    {
        var scale = (std + eps).reciprocal();
        if (weight is not null) scale = scale * weight;
        var shift = -mean * scale;
        if (bias is not null) shift = shift + bias;
        long k = x.shape[0], channels = x.shape[2];
        return torch.addcmul(shift.view(k, 1, channels, 1), x, scale.view(k, 1, channels, 1), 1);
    }
}
