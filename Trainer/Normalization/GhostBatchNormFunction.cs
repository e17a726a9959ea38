using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Normalization;

/// <summary>
/// Ghost Batch Normalization as a stateless function (ALGORITHMS.md section 1): the batch is split
/// along dim 0 into k = N / ghost contiguous chunks, each normalized with its own mean and biased
/// variance per channel, with shared gamma and beta. Running statistics (when given) are updated
/// in place as if BatchNorm had seen the chunks one after the other.
/// </summary>
/// <remarks>
/// Kept apart from the module so the math is testable without a module's state. Float32 CPU activations (the
/// trainer's case on the CPU) go through <see cref="GhostBatchNormCpuFunction"/>, fused loops that read the chunks
/// where they lie and cost about what BatchNorm costs, except channels-last ones computed with several threads, which
/// <see cref="ChunkwiseBatchNorm"/> hands to the framework's batch norm one ghost batch at a time; anything else
/// (other devices or dtypes) folds the chunks into channels for the framework's own batch-norm kernel.
/// </remarks>
public static class GhostBatchNormFunction
{
    /// <summary>BatchNorm's default momentum for the running statistics.</summary>
    public const double DefaultMomentum = 0.1;

    /// <summary>BatchNorm's default epsilon added to the variance.</summary>
    public const double DefaultEps = 1e-5;

    /// <summary>
    /// Rows of each ghost batch for a batch of <paramref name="rows"/> rows: k = rows / ghost chunks of
    /// <paramref name="ghostBatch"/> rows, the remainder folded into the last chunk; one chunk of all
    /// rows when rows &lt; ghost.
    /// </summary>
    public static long[] ChunkSizes(long rows, long ghostBatch)
    {
        if (rows < 1) throw new ArgumentOutOfRangeException(nameof(rows), rows, "a batch needs at least one row");
        if (ghostBatch < 1) throw new ArgumentOutOfRangeException(nameof(ghostBatch), ghostBatch, "the ghost batch size must be positive");
        long chunk = Math.Min(ghostBatch, rows);
        long k = rows / chunk;
        var sizes = new long[k];
        Array.Fill(sizes, chunk);
        // The remainder goes to the last chunk rather than forming a tiny chunk of its own, whose
        // statistics would be too noisy to normalize with (it only happens on an epoch's last batch).
        sizes[^1] += rows - k * chunk;
        return sizes;
    }

    /// <summary>
    /// Ghost batch norm of <paramref name="input"/> ([N, C] or [N, C, *]).
    /// </summary>
    /// <param name="input">Activations; dim 0 is the batch, dim 1 the channels.</param>
    /// <param name="runningMean">Running mean [C], updated in place in training; required in eval.</param>
    /// <param name="runningVar">Running (unbiased) variance [C], updated in place in training; required in eval.</param>
    /// <param name="weight">gamma [C], shared by all chunks; null for none.</param>
    /// <param name="bias">beta [C], shared by all chunks; null for none.</param>
    /// <param name="training">Training normalizes by chunk statistics; eval by the running statistics.</param>
    /// <param name="ghostBatch">Rows per ghost batch.</param>
    /// <param name="momentum">Weight of each chunk's statistics in the running update.</param>
    /// <param name="eps">Added to the variance.</param>
    /// <returns>The normalized activations, same shape as the input; differentiable in input, weight and bias.</returns>
    public static Tensor Forward(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight, Tensor? bias,
        bool training, long ghostBatch, double momentum = DefaultMomentum, double eps = DefaultEps) =>
        Forward(input, runningMean, runningVar, weight, bias, training, ghostBatch, momentum, eps, fusedCpu: true, get_num_threads());

    /// <inheritdoc cref="Forward(Tensor, Tensor?, Tensor?, Tensor?, Tensor?, bool, long, double, double)"/>
    /// <param name="fusedCpu">False keeps CPU input on the generic path too (to compare the paths).</param>
    /// <param name="threads">libtorch's intra-op thread count, which picks the CPU path for channels-last input
    /// (<see cref="ChunkwiseBatchNorm"/> says why).</param>
    internal static Tensor Forward(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight, Tensor? bias,
        bool training, long ghostBatch, double momentum, double eps, bool fusedCpu, int threads)
    {
        if (input.dim() < 2) throw new ArgumentException($"ghost batch norm needs [N, C, ...] input, got {input.dim()} dims", nameof(input));
        if ((runningMean is null) != (runningVar is null)) throw new ArgumentException("give both running statistics or neither");
        if (!training)
        {
            if (runningMean is null || runningVar is null)
                throw new ArgumentException("eval mode normalizes with the running statistics; none were given");
            return nn.functional.batch_norm(input, runningMean, runningVar, weight, bias, false, momentum, eps);
        }

        var sizes = ChunkSizes(input.shape[0], ghostBatch);
        // One chunk is plain BatchNorm, running update included (one chunk, one update): delegate, so
        // ghost = batch is bit-identical to BatchNorm and costs nothing extra.
        if (sizes.Length == 1 && runningMean is not null && runningVar is not null)
            return nn.functional.batch_norm(input, runningMean, runningVar, weight, bias, true, momentum, eps);

        if (fusedCpu && ChunkwiseBatchNorm.Suits(input, threads))
            return ChunkwiseBatchNorm.Forward(input, sizes, runningMean, runningVar, weight, bias, momentum, eps);
        if (fusedCpu && GhostBatchNormCpuFunction.Supports(input, weight, bias))
        {
            var (output, chunkMean, chunkVar) = GhostBatchNormCpuFunction.Apply(input, weight, bias, sizes, eps, threads);
            if (runningMean is not null && runningVar is not null)
            {
                using var _ = no_grad();
                long[] shape = [sizes.Length, input.shape[1]];
                using var meanStats = tensor(chunkMean, shape, ScalarType.Float64);
                using var varStats = tensor(chunkVar, shape, ScalarType.Float64);
                UpdateRunning(runningMean, meanStats, momentum);
                UpdateRunning(runningVar, varStats, momentum);
            }
            return output;
        }

        using var scope = NewDisposeScope();
        long rows = input.shape[0], channels = input.shape[1];
        var x = input.reshape(rows, channels, -1); // [N, C, L]; L = 1 for [N, C]
        long chunk = sizes[0];
        long equal = sizes[^1] == chunk ? sizes.Length : sizes.Length - 1; // chunks of exactly `chunk` rows

        // At most two groups of equal chunks: the chunks of exactly `chunk` rows, and the last chunk
        // when the remainder made it longer.
        var groups = new List<(long start, long count, long size)>();
        // Statistics in the running buffers' type (else the parameters'), as plain BatchNorm keeps them,
        // so reduced-precision activations still get full-precision statistics.
        var statsType = runningMean?.dtype ?? weight?.dtype ?? input.dtype;
        if (equal > 0) groups.Add((0, equal, chunk));
        if (equal < sizes.Length) groups.Add((equal * chunk, 1, sizes[^1]));
        var outputs = new List<Tensor>();
        var means = new List<Tensor>();
        var vars = new List<Tensor>();
        foreach (var (start, count, size) in groups)
        {
            var (output, stats) = NormalizeEqualChunks(x.narrow(0, start, count * size), count, size, weight, bias, eps, statsType);
            outputs.Add(output);
            means.Add(stats.mean);
            vars.Add(stats.var);
        }

        if (runningMean is not null && runningVar is not null)
        {
            using var _ = no_grad();
            UpdateRunning(runningMean, cat(means, 0), momentum);
            UpdateRunning(runningVar, cat(vars, 0), momentum);
        }

        var y = outputs.Count == 1 ? outputs[0] : cat(outputs, 0);
        return y.reshape(input.shape).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Normalizes k equal chunks of g rows of x [k*g, C, L] in one call. Folding the chunk index
    /// into the channel dim ([g, k*C, L]) makes every (chunk, channel) pair a channel of ordinary
    /// batch norm, so the fused BN kernel (forward and backward) does all chunks at once instead of
    /// a per-chunk loop or a chain of elementwise ops that autograd would each keep alive.
    /// </summary>
    /// <returns>The normalized chunks [k*g, C, L] and each chunk's mean and unbiased variance [k, C].</returns>
    private static (Tensor output, (Tensor mean, Tensor var) stats) NormalizeEqualChunks(
        Tensor x, long k, long g, Tensor? weight, Tensor? bias, double eps, ScalarType statsType)
    {
        long channels = x.shape[1], l = x.shape[2];
        var folded = k == 1 ? x : x.reshape(k, g, channels, l).permute(1, 0, 2, 3).reshape(g, k * channels, l);
        // Scratch running stats with momentum 1 receive exactly this call's per-channel mean and
        // unbiased variance: the kernel hands back the chunk statistics without a second reduction.
        var chunkMean = zeros(k * channels, dtype: statsType, device: x.device);
        var chunkVar = ones(k * channels, dtype: statsType, device: x.device);
        var y = nn.functional.batch_norm(folded, chunkMean, chunkVar,
            k == 1 ? weight : weight?.repeat(k), k == 1 ? bias : bias?.repeat(k), true, 1.0, eps);
        if (k > 1) y = y.reshape(g, k, channels, l).permute(1, 0, 2, 3).reshape(k * g, channels, l);
        return (y, (chunkMean.view(k, channels), chunkVar.view(k, channels)));
    }

    /// <summary>
    /// k sequential momentum updates r &lt;- (1 - m) r + m stat_l in closed form:
    /// r = (1 - m)^k r + sum_l m (1 - m)^(k - l) stat_l.
    /// </summary>
    internal static void UpdateRunning(Tensor running, Tensor chunkStats, double momentum)
    {
        long k = chunkStats.shape[0];
        var weights = new double[k];
        for (long l = 0; l < k; l++) weights[l] = momentum * Math.Pow(1 - momentum, k - 1 - l);
        using var w = tensor(weights, dtype: ScalarType.Float64, device: running.device).unsqueeze(1);
        // `dim:` named on purpose: a bare literal 0 binds to sum(ScalarType) and sums everything.
        using var contribution = (chunkStats.to(ScalarType.Float64) * w).sum(dim: 0).to(running.dtype);
        running.mul_(Math.Pow(1 - momentum, k)).add_(contribution);
    }
}
