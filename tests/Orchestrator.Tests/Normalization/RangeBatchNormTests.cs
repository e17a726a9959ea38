using System.Globalization;
using Orchestrator.Spec;
using Orchestrator.Trainer.Models;
using Orchestrator.Trainer.Normalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Tests.Normalization;

/// <summary>Range batch norm (ALGORITHMS.md section 5): the estimate against BatchNorm, the chunking, eval, gradients, ghost batches.</summary>
public sealed class RangeBatchNormTests
{
    private const double Eps = RangeBatchNormFunction.DefaultEps;

    private static string F(double v) => v.ToString("G5", CultureInfo.InvariantCulture);

    /// <summary>C(n) as ALGORITHMS.md section 5 gives the reference code's: 0.5 x 0.35 x (1 + sqrt(pi ln 4)) / sqrt(2 ln n).</summary>
    private static double C(long n) => 0.5 * 0.35 * (1 + Math.Sqrt(Math.PI * Math.Log(4))) / Math.Sqrt(2 * Math.Log(n));

    /// <summary>
    /// sigma^ straight from the definition, with plain loops: per channel, the values in (row, position) order,
    /// split into min(16, values / 2) chunks (the first values % chunks one longer), the mean of C(n_j) x range_j.
    /// </summary>
    private static (double[] mean, double[] std) Reference(double[,,] x)
    {
        int rows = x.GetLength(0), channels = x.GetLength(1), inner = x.GetLength(2);
        var means = new double[channels];
        var stds = new double[channels];
        for (int c = 0; c < channels; c++)
        {
            var values = new List<double>();
            for (int n = 0; n < rows; n++)
                for (int l = 0; l < inner; l++)
                    values.Add(x[n, c, l]);
            int chunks = Math.Min(16, values.Count / 2);
            int q = values.Count / chunks, longer = values.Count % chunks, at = 0;
            double sum = 0;
            for (int j = 0; j < chunks; j++)
            {
                int size = q + (j < longer ? 1 : 0);
                var chunk = values.GetRange(at, size);
                at += size;
                sum += (chunk.Max() - chunk.Min()) * C(size);
            }
            means[c] = values.Average();
            stds[c] = sum / chunks;
        }
        return (means, stds);
    }

    private static double[,,] Values(Tensor t)
    {
        using var x = t.reshape(t.shape[0], t.shape[1], -1).to(ScalarType.Float64).contiguous();
        var flat = x.data<double>().ToArray();
        var result = new double[x.shape[0], x.shape[1], x.shape[2]];
        Buffer.BlockCopy(flat, 0, result, 0, flat.Length * sizeof(double));
        return result;
    }

    [Fact]
    public void The_gaussian_order_statistics_match_their_closed_forms_for_two_values()
    {
        // n = 2: R = |X1 - X2| with X1 - X2 ~ N(0, 2), so E[R] = 2 / sqrt(pi); M = max has E[M] = 1 / sqrt(pi), E[M^2] = 1.
        Assert.Equal(2 / Math.Sqrt(Math.PI), GaussianRange.ExpectedRange(2), 7);
        Assert.Equal(1 / Math.Sqrt(Math.PI), GaussianRange.MaximumMoment(2, 1), 7);
        Assert.Equal(1 - 1 / Math.PI, GaussianRange.MaximumVariance(2), 7);
        Assert.Equal(0, GaussianRange.ExpectedRange(1), 7);
    }

    /// <summary>
    /// On Gaussian channels, Range BN's output is BatchNorm's divided by sigma^/s (s: the channel's standard deviation).
    /// With R chunks of n values, sigma^/sigma has mean b = C(n) E[R_n] and standard deviation C(n) sqrt(Var(R_n) / R)
    /// &lt;= C(n) sqrt(2 Var(M_n) / R); s/sigma adds about 1/sqrt(2 m) relative over the channel's m values. Each
    /// channel's ratio is within 5 of those (summed) deviations of b, and the mean over the C independent channels
    /// within 5 / sqrt(C) of them.
    /// </summary>
    [Theory]
    [InlineData(64, 16)] // 64 rows x 256 positions: 16 chunks of 4 whole rows, n = 1024
    [InlineData(60, 10)] // 60 rows x 100 positions: chunks of 375 values cut rows (the copying path)
    [InlineData(48, 1)]  // [N, C] input: 16 chunks of 3 rows, n = 3, where C(n) is far from calibrated
    public void On_gaussian_inputs_range_batch_norm_agrees_with_batch_norm_within_the_estimates_spread(int rows, int side)
    {
        using var scope = NewDisposeScope();
        const int channels = 12;
        var generator = new Generator(42);
        var sigma = arange(channels, dtype: ScalarType.Float64).mul(0.5).add(0.5);   // 0.5 .. 6
        var mu = arange(channels, dtype: ScalarType.Float64).sub(6);
        long[] shape = side == 1 ? [rows, channels] : [rows, channels, side, side];
        long[] view = side == 1 ? [1, channels] : [1, channels, 1, 1];
        var x = randn(shape, dtype: ScalarType.Float64, generator: generator) * sigma.view(view) + mu.view(view);

        var batch = nn.functional.batch_norm(x, null, null, training: true);
        var range = RangeBatchNormFunction.Forward(x, null, null, null, null, training: true);

        long values = (long)rows * side * side;
        int chunks = RangeBatchNormFunction.ChunkCount(values, RangeBatchNormFunction.DefaultChunks);
        long n = values / chunks;
        Assert.Equal(values, n * chunks); // every case above splits evenly, so one n
        double c = C(n);
        double bias = c * GaussianRange.ExpectedRange(n);
        double spread = c * Math.Sqrt(GaussianRange.RangeVarianceBound(n) / chunks) + bias / Math.Sqrt(2.0 * (values - 1));

        var b = batch.transpose(0, 1).reshape(channels, -1);
        var r = range.transpose(0, 1).reshape(channels, -1);
        // Both outputs are x - mean scaled per channel: r = b x s / sigma^, so sigma^/s is the inverse of the slope.
        var ratios = ((b * b).sum([1]) / (b * r).sum([1])).data<double>().ToArray();
        var centres = r.mean([1]).data<double>().ToArray();
        for (int ch = 0; ch < channels; ch++)
        {
            Assert.True(Math.Abs(centres[ch]) < 1e-9, $"channel {ch}: Range BN output mean {F(centres[ch])}, not centred like BatchNorm's");
            Assert.True(Math.Abs(ratios[ch] - bias) <= 5 * spread,
                $"channel {ch}: sigma^/s = {F(ratios[ch])}, expected {F(bias)} +- 5 x {F(spread)} (n = {n}, {chunks} chunks)");
        }
        double meanRatio = ratios.Average();
        Assert.True(Math.Abs(meanRatio - bias) <= 5 * spread / Math.Sqrt(channels),
            $"mean sigma^/s over channels {F(meanRatio)}, expected {F(bias)} +- 5 x {F(spread / Math.Sqrt(channels))}");
    }

    [Theory]
    [InlineData(4, 8)]   // 32 values: 16 chunks of 2, whole rows split (4 rows, 16 chunks)
    [InlineData(3, 5)]   // 15 values: 7 chunks, the first of 3 values, six of 2
    [InlineData(32, 9)]  // 288 values: 16 chunks of 18 (2 whole rows each)
    [InlineData(7, 9)]   // 63 values: 15 chunks of 4 and one of 3
    public void Statistics_follow_the_definition_over_chunks_of_each_channels_values(int rows, int inner)
    {
        using var scope = NewDisposeScope();
        var x = randn([rows, 3, inner], dtype: ScalarType.Float64, generator: new Generator((ulong)(rows * 100 + inner))) * 2 + 1;
        var (mean, std) = Reference(Values(x));
        var runningMean = zeros(3, dtype: ScalarType.Float64);
        var runningStd = ones(3, dtype: ScalarType.Float64);

        var y = RangeBatchNormFunction.Forward(x, runningMean, runningStd, null, null, training: true);

        var expected = (x - tensor(mean).view(1, 3, 1)) / (tensor(std).view(1, 3, 1) + Eps);
        Assert.True(y.allclose(expected, rtol: 1e-10, atol: 1e-10), $"max difference {(y - expected).abs().max().item<double>()}");
        // One running update with momentum 0.1 from (0, 1).
        Assert.True(runningMean.allclose(tensor(mean) * 0.1, rtol: 1e-12, atol: 1e-12));
        Assert.True(runningStd.allclose(tensor(std) * 0.1 + 0.9, rtol: 1e-12, atol: 1e-12));
    }

    [Fact]
    public void Eval_normalizes_each_sample_with_the_running_statistics_alone()
    {
        using var scope = NewDisposeScope();
        using var layer = new RangeBatchNorm(3, long.MaxValue, [4]);
        using (no_grad())
        {
            layer.Weight.copy_(tensor(new[] { 0.5f, 2f, -1f }));
            layer.Bias.copy_(tensor(new[] { 0.1f, -0.3f, 1f }));
        }
        var generator = new Generator(5);
        for (int i = 0; i < 3; i++) layer.forward(randn([32, 3, 4, 4], generator: generator) * 3 + 2);
        Assert.Equal(3, layer.NumBatchesTracked.item<long>());

        layer.eval();
        var x = randn([6, 3, 4, 4], generator: generator) * 3 + 2;
        var y = layer.forward(x);
        var (rm, rs) = (layer.RunningMean.view(1, 3, 1, 1), layer.RunningStd.view(1, 3, 1, 1));
        var expected = (x - rm) / (rs + Eps) * layer.Weight.view(1, 3, 1, 1) + layer.Bias.view(1, 3, 1, 1);
        Assert.True(y.allclose(expected, rtol: 1e-5, atol: 1e-5));
        // One sample alone gets what it gets in a batch: no batch statistic is involved.
        Assert.True(layer.forward(x.narrow(0, 2, 1)).allclose(y.narrow(0, 2, 1), rtol: 1e-6, atol: 1e-6));
        // Eval left the running statistics alone, and differs from normalizing by the batch's own statistics.
        Assert.Equal(3, layer.NumBatchesTracked.item<long>());
        layer.train();
        using (no_grad()) Assert.False(layer.forward(x).allclose(y, rtol: 1e-3, atol: 1e-3), "train and eval outputs coincide; eval is not using the running statistics");
    }

    /// <summary>Analytic gradients (through mu and the chunk ranges) against central differences, in float64.</summary>
    [Theory]
    [InlineData(new long[] { 16, 2, 3, 3 }, long.MaxValue)] // chunks of whole rows
    [InlineData(new long[] { 5, 2, 7 }, long.MaxValue)]     // chunks cutting rows, unequal chunks
    [InlineData(new long[] { 10, 2, 2, 2 }, 4L)]            // ghost batches of 4 and 6 rows
    [InlineData(new long[] { 12, 3 }, long.MaxValue)]       // [N, C]
    public void Gradients_match_finite_differences(long[] shape, long ghost)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(11);
        long channels = shape[1];
        using var layer = new RangeBatchNorm(channels, ghost, [shape.Length]);
        layer.to(ScalarType.Float64);
        using (no_grad())
        {
            layer.Weight.copy_(rand(channels, dtype: ScalarType.Float64, generator: generator) + 0.5);
            layer.Bias.copy_(randn(channels, dtype: ScalarType.Float64, generator: generator));
        }
        var x = (randn(shape, dtype: ScalarType.Float64, generator: generator) * 2).requires_grad_();
        var probe = randn(shape, dtype: ScalarType.Float64, generator: generator);
        Tensor Loss(Tensor input) => (layer.forward(input) * probe).sum();

        Loss(x).backward();
        var analytic = new[] { ("input", x.grad!.clone(), x), ("weight", layer.Weight.grad!.clone(), (Tensor)layer.Weight), ("bias", layer.Bias.grad!.clone(), layer.Bias) };
        const double h = 1e-6;
        using var noGrad = no_grad();
        foreach (var (name, gradient, variable) in analytic)
        {
            var flat = variable.view(-1);
            var expected = gradient.view(-1);
            for (long i = 0; i < flat.shape[0]; i++)
            {
                double original = flat[i].item<double>();
                flat[i].fill_(original + h);
                double up = Loss(x).item<double>();
                flat[i].fill_(original - h);
                double down = Loss(x).item<double>();
                flat[i].fill_(original);
                double numeric = (up - down) / (2 * h);
                double value = expected[i].item<double>();
                Assert.True(Math.Abs(value - numeric) <= 1e-6 + 1e-5 * Math.Abs(numeric),
                    $"d loss / d {name}[{i}]: autograd {F(value)}, finite difference {F(numeric)}");
            }
        }
    }

    [Theory]
    [InlineData(24, 8)]  // three ghost batches of 8
    [InlineData(20, 8)]  // 8 and 12: the remainder folds into the last one
    public void Ghost_batches_are_range_normalized_one_by_one_and_update_the_running_statistics_in_turn(int rows, int ghost)
    {
        using var scope = NewDisposeScope();
        var x = randn([rows, 3, 4, 4], generator: new Generator(3)) * arange(rows).view(rows, 1, 1, 1).div(4).add(0.5);
        using var ghosts = new RangeBatchNorm(3, ghost, [4]);
        using var sequential = new RangeBatchNorm(3, long.MaxValue, [4]);
        var sizes = GhostBatchNormFunction.ChunkSizes(rows, ghost);

        var y = ghosts.forward(x);
        var parts = new List<Tensor>();
        long start = 0;
        foreach (var size in sizes)
        {
            parts.Add(sequential.forward(x.narrow(0, start, size)));
            start += size;
        }

        Assert.True(y.allclose(cat(parts, 0), rtol: 1e-5, atol: 1e-5), "output differs from normalizing each ghost batch alone");
        Assert.True(ghosts.RunningMean.allclose(sequential.RunningMean, rtol: 1e-6, atol: 1e-6), "running mean");
        Assert.True(ghosts.RunningStd.allclose(sequential.RunningStd, rtol: 1e-6, atol: 1e-6), "running sigma^");
        Assert.Equal(sizes.Length, ghosts.NumBatchesTracked.item<long>());
        // And not what the whole batch gives: the check can tell.
        using var whole = new RangeBatchNorm(3, long.MaxValue, [4]);
        Assert.False(whole.forward(x).allclose(y, rtol: 1e-3, atol: 1e-3));
        // A ghost batch of at least the whole batch is the whole batch.
        using var large = new RangeBatchNorm(3, rows, [4]);
        Assert.True(large.forward(x).allclose(whole.forward(x), rtol: 1e-6, atol: 1e-6));
    }

    [Fact]
    public void Reestimation_averages_each_whole_batchs_statistics_and_keeps_the_ghost_size()
    {
        using var scope = NewDisposeScope();
        var range = new RangeBatchNorm(3, 4, [4]);
        var model = nn.Sequential(("norm", (nn.Module<Tensor, Tensor>)range));
        var batches = Enumerable.Range(0, 3).Select(i => randn([16, 3, 3, 3], generator: new Generator((ulong)i + 20)) * (i + 1) + i).ToList();

        RunningStatsReestimation.Reestimate(model, batches);

        var stats = batches.Select(b => Reference(Values(b))).ToList();
        var means = Enumerable.Range(0, 3).Select(c => (float)stats.Average(s => s.mean[c])).ToArray();
        var stds = Enumerable.Range(0, 3).Select(c => (float)stats.Average(s => s.std[c])).ToArray();
        Assert.True(range.RunningMean.allclose(tensor(means), rtol: 1e-5, atol: 1e-5), $"running mean {range.RunningMean.str()}");
        Assert.True(range.RunningStd.allclose(tensor(stds), rtol: 1e-5, atol: 1e-5), $"running sigma^ {range.RunningStd.str()}");
        Assert.Equal(4, range.GhostBatch);
        Assert.Equal(0.1, range.Momentum);
    }

    [Fact]
    public void Every_model_builds_with_range_batch_norm_and_trains_a_step()
    {
        var input = new ModelInput(1, 12, 12, 5);
        foreach (var kind in Enum.GetValues<ModelKind>())
        {
            using var scope = NewDisposeScope();
            using var model = ModelRegistry.Create(new ModelSpec(kind, 2, NormKind.RangeBatch), input, ghostBatch: 4);
            using var batchModel = ModelRegistry.Create(new ModelSpec(kind, 2, NormKind.Batch), input);
            // BatchNorm's state names, the variance replaced by sigma^ (still a running_* buffer, so workers average it).
            Assert.Equal(batchModel.state_dict().Keys.Select(k => k.Replace("running_var", "running_std")).Order(), model.state_dict().Keys.Order());
            Assert.Contains(model.modules(), m => m is RangeBatchNorm { GhostBatch: 4 });
            Assert.True(BatchStatistics.UsedBy(model));
            model.train();
            var logits = model.forward(randn(10, 1, 12, 12));
            Assert.Equal(new long[] { 10, 5 }, logits.shape);
            logits.sum().backward();
            Assert.All(model.parameters(), p => Assert.NotNull(p.grad));
        }
        Assert.Equal(long.MaxValue, ((RangeBatchNorm)new RangeBatchNormFactory().Norm2d(2)).GhostBatch); // no ghost size: the whole batch
    }

    [Fact]
    public void Too_few_values_for_a_range_are_refused_clearly()
    {
        using var scope = NewDisposeScope();
        var error = Assert.Throws<ArgumentException>(() => RangeBatchNormFunction.Forward(randn(1, 3), null, null, null, null, training: true));
        Assert.Contains("at least 2 values per channel", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new RangeBatchNormFactory(-1));
    }
}
