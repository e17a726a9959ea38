using Orchestrator.Trainer.Devices;
using Orchestrator.Trainer.Normalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Tests.Normalization;

/// <summary>
/// The CPU paths of ghost batch norm (the fused kernels for float32, and libtorch's batch norm per ghost batch for
/// channels-last input with several threads) against the generic path, which folds chunks into channels for libtorch's
/// batch norm: run in float64, the generic path is an independent reference.
/// </summary>
public sealed class GhostBatchNormCpuPathTests
{
    private sealed record Outcome(Tensor Output, Tensor InputGrad, Tensor WeightGrad, Tensor BiasGrad, Tensor RunningMean, Tensor RunningVar);

    /// <summary>Forward and backward of <see cref="GhostBatchNormFunction.Forward"/> in <paramref name="type"/>, its CPU path
    /// chosen as for <paramref name="threads"/> intra-op threads; results in float64.</summary>
    private static Outcome Run(Tensor x, Tensor upstream, Tensor gamma, Tensor beta, long ghost, ScalarType type, bool channelsLast = false, int threads = 1)
    {
        long channels = x.shape[1];
        var input = (channelsLast ? ChannelsLast.Of(x.to(type)) : x.to(type)).detach().requires_grad_();
        // detach: to() of a tensor already in `type` is the tensor itself, whose gradient would pile up over runs.
        var weight = gamma.to(type).detach().requires_grad_();
        var bias = beta.to(type).detach().requires_grad_();
        var runningMean = full(channels, 0.3, dtype: type);
        var runningVar = full(channels, 1.7, dtype: type);
        Assert.Equal(type == ScalarType.Float32, GhostBatchNormCpuFunction.Supports(input, weight, bias));
        var y = GhostBatchNormFunction.Forward(input, runningMean, runningVar, weight, bias, training: true, ghost,
            GhostBatchNormFunction.DefaultMomentum, GhostBatchNormFunction.DefaultEps, fusedCpu: true, threads);
        if (type == ScalarType.Float32)
            Assert.Equal(channelsLast, ChannelsLast.Is(y) && !y.is_contiguous()); // the output keeps the input's memory order
        (y * upstream.to(type)).sum().backward();
        static Tensor D(Tensor t) => t.detach().to(ScalarType.Float64);
        return new Outcome(D(y), D(input.grad!), D(weight.grad!), D(bias.grad!), D(runningMean), D(runningVar));
    }

    private static void Close(Tensor expected, Tensor actual, string what, double rtol, double atol)
    {
        Assert.Equal(expected.shape, actual.shape);
        double worst = (expected - actual).abs().max().item<double>();
        Assert.True(actual.allclose(expected, rtol: rtol, atol: atol), $"{what}: max abs difference {worst}");
    }

    /// <param name="outputTolerance">1e-5 for the fused kernels (float sums flushed into doubles every 1024 values);
    /// libtorch's batch norm sums a whole ghost batch per channel in float, about 4x the rounding at 16K values.</param>
    private static void Agree(Outcome expected, Outcome actual, double outputTolerance = 1e-5)
    {
        Close(expected.Output, actual.Output, "output", outputTolerance, outputTolerance);
        Close(expected.InputGrad, actual.InputGrad, "input gradient", 1e-4, 1e-5);
        Close(expected.WeightGrad, actual.WeightGrad, "weight gradient", 1e-4, 1e-4);
        Close(expected.BiasGrad, actual.BiasGrad, "bias gradient", 1e-4, 1e-4);
        Close(expected.RunningMean, actual.RunningMean, "running mean", 1e-5, 1e-6);
        Close(expected.RunningVar, actual.RunningVar, "running var", 1e-5, 1e-6);
    }

    [Theory]
    [InlineData(new long[] { 24, 3 }, 6)]            // [N, C]: one value per row and channel, channels grouped per task
    [InlineData(new long[] { 20, 5, 7 }, 4)]         // [N, C, L], L below a cache line: groups of 3 and 2 channels
    [InlineData(new long[] { 11, 4, 3, 3 }, 3)]      // chunks 3, 3, 5 (remainder folded into the last)
    [InlineData(new long[] { 10, 2, 33 }, 4)]        // chunks 4, 6; runs not a multiple of the vector width
    [InlineData(new long[] { 32, 8, 10, 10 }, 8)]    // one channel per task
    [InlineData(new long[] { 16, 3, 40, 40 }, 8)]    // runs longer than the float partial sums
    public void Fused_path_equals_the_generic_path_in_float64(long[] shape, long ghost)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(7);
        long channels = shape[1];
        var view = new long[shape.Length];
        Array.Fill(view, 1L);
        view[0] = shape[0];
        // Rows differ in location and spread, so chunk statistics differ from the batch's and from each other.
        var rowScale = arange(shape[0], dtype: ScalarType.Float64).div(3).add(0.5).view(view);
        var x = (randn(shape, dtype: ScalarType.Float64, generator: generator) * rowScale + rowScale * 2).to(ScalarType.Float32);
        var upstream = randn(shape, generator: generator);
        var gamma = rand(channels, generator: generator) + 0.5;
        var beta = randn(channels, generator: generator);

        Agree(Run(x, upstream, gamma, beta, ghost, ScalarType.Float64), Run(x, upstream, gamma, beta, ghost, ScalarType.Float32));
    }

    [Theory]
    [InlineData(new long[] { 16, 24, 6, 6 }, 4)]     // channels a multiple of the vector width
    [InlineData(new long[] { 11, 5, 3, 3 }, 3)]      // channels below it (scalar remainder); chunks 3, 3, 5
    [InlineData(new long[] { 64, 16, 32, 32 }, 16)]  // several slices per chunk, float partial sums flushed
    [InlineData(new long[] { 8, 3, 40, 40 }, 8)]     // one chunk cut into slices
    public void Channels_last_input_equals_the_generic_path_in_float64_on_both_cpu_paths(long[] shape, long ghost)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(13);
        var rowScale = arange(shape[0], dtype: ScalarType.Float64).div(5).add(0.5).view(shape[0], 1, 1, 1);
        var x = (randn(shape, dtype: ScalarType.Float64, generator: generator) * rowScale + rowScale * 2).to(ScalarType.Float32);
        var upstream = randn(shape, generator: generator);
        var gamma = rand(shape[1], generator: generator) + 0.5;
        var beta = randn(shape[1], generator: generator);
        Assert.True(GhostBatchNormCpuFunction.Supports(ChannelsLast.Of(x), null, null));
        Assert.False(ChunkwiseBatchNorm.Suits(ChannelsLast.Of(x), threads: 1)); // one thread: the fused kernels
        Assert.True(ChunkwiseBatchNorm.Suits(ChannelsLast.Of(x), threads: 2)); // several: libtorch's batch norm per ghost batch

        var expected = Run(x, upstream, gamma, beta, ghost, ScalarType.Float64);
        foreach (int threads in new[] { 1, 2 })
        {
            double tolerance = threads == 1 ? 1e-5 : 4e-5;
            Agree(expected, Run(x, upstream, gamma, beta, ghost, ScalarType.Float32, channelsLast: true, threads), tolerance);
            // The upstream gradient in the activations' own order too (as a channels-last network hands it back).
            Agree(expected, Run(x, ChannelsLast.Of(upstream), gamma, beta, ghost, ScalarType.Float32, channelsLast: true, threads), tolerance);
        }
    }

    [Fact]
    public void Channels_last_results_do_not_depend_on_the_thread_count()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(17);
        var x = ChannelsLast.Of(randn([32, 16, 16, 16], generator: generator));
        var upstream = randn(x.shape, generator: generator);
        var sizes = GhostBatchNormFunction.ChunkSizes(32, 8);
        (Tensor y, Tensor dx, double[] mean, double[] var) Once(int threads)
        {
            var input = x.detach().requires_grad_();
            var (y, mean, var) = GhostBatchNormCpuFunction.Apply(input, null, null, sizes, GhostBatchNormFunction.DefaultEps, threads);
            (y * upstream).sum().backward();
            return (y.detach(), input.grad!, mean, var);
        }
        var one = Once(1);
        var three = Once(3);
        Assert.True(one.y.eq(three.y).all().item<bool>(), "output");
        Assert.True(one.dx.eq(three.dx).all().item<bool>(), "input gradient");
        Assert.Equal(one.mean, three.mean);
        Assert.Equal(one.var, three.var);
    }

    [Fact]
    public void Variance_far_from_zero_is_not_cancelled()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(3);
        // Mean 1000, spread 1: E[x^2] - E[x]^2 in float32 would lose the variance entirely.
        var x = randn([32, 4, 6, 6], generator: generator) + 1000;
        var upstream = randn(x.shape, generator: generator);
        var gamma = ones(4);
        var beta = zeros(4);
        var expected = Run(x, upstream, gamma, beta, 8, ScalarType.Float64);
        var actual = Run(x, upstream, gamma, beta, 8, ScalarType.Float32);
        Close(expected.RunningVar, actual.RunningVar, "running var", 1e-5, 1e-6);
        // Output = (x - mean) * istd with |x| ~ 1000 in float32: the shift alone is rounded to ~1e-4.
        Close(expected.Output, actual.Output, "output", 1e-3, 1e-3);
        Close(expected.InputGrad, actual.InputGrad, "input gradient", 1e-3, 1e-3);
    }

    [Fact]
    public void Results_do_not_depend_on_the_thread_count()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(11);
        var x = randn([24, 6, 5, 5], generator: generator);
        var upstream = randn(x.shape, generator: generator);
        var gamma = rand(6, generator: generator) + 0.5;
        var beta = randn(6, generator: generator);
        var sizes = GhostBatchNormFunction.ChunkSizes(24, 5);
        (Tensor y, Tensor dx, Tensor dw, Tensor db, double[] mean, double[] var) Once(int threads)
        {
            var input = x.clone().requires_grad_();
            var weight = gamma.clone().requires_grad_();
            var bias = beta.clone().requires_grad_();
            var (y, mean, var) = GhostBatchNormCpuFunction.Apply(input, weight, bias, sizes, GhostBatchNormFunction.DefaultEps, threads);
            (y * upstream).sum().backward();
            return (y.detach(), input.grad!, weight.grad!, bias.grad!, mean, var);
        }
        var one = Once(1);
        var three = Once(3);
        static bool Same(Tensor a, Tensor b) => a.eq(b).all().item<bool>();
        Assert.True(Same(one.y, three.y), "output");
        Assert.True(Same(one.dx, three.dx), "input gradient");
        Assert.True(Same(one.dw, three.dw), "weight gradient");
        Assert.True(Same(one.db, three.db), "bias gradient");
        Assert.Equal(one.mean, three.mean);
        Assert.Equal(one.var, three.var);
    }

    [Fact]
    public void Without_gradients_it_normalizes_and_updates_the_running_statistics()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(5);
        var x = randn([12, 3, 4, 4], generator: generator) * 2 + 1;
        var gamma = rand(3, generator: generator) + 0.5;
        var beta = randn(3, generator: generator);
        var upstream = zeros(x.shape);
        var expected = Run(x, upstream, gamma, beta, 4, ScalarType.Float64);

        var runningMean = full(3, 0.3f);
        var runningVar = full(3, 1.7f);
        Tensor y;
        using (no_grad())
            y = GhostBatchNormFunction.Forward(x, runningMean, runningVar, gamma, beta, training: true, ghostBatch: 4);
        Assert.False(y.requires_grad);
        Close(expected.Output, y.to(ScalarType.Float64), "output", 1e-5, 1e-5);
        Close(expected.RunningMean, runningMean.to(ScalarType.Float64), "running mean", 1e-5, 1e-6);
        Close(expected.RunningVar, runningVar.to(ScalarType.Float64), "running var", 1e-5, 1e-6);

        // Only gamma and beta learn (an input that needs no gradient, as the first layer's images).
        var weight = gamma.clone().requires_grad_();
        var bias = beta.clone().requires_grad_();
        var z = GhostBatchNormFunction.Forward(x, null, null, weight, bias, training: true, ghostBatch: 4);
        z.square().sum().backward();
        var weight64 = gamma.to(ScalarType.Float64).requires_grad_();
        var bias64 = beta.to(ScalarType.Float64).requires_grad_();
        GhostBatchNormFunction.Forward(x.to(ScalarType.Float64), null, null, weight64, bias64, training: true, ghostBatch: 4).square().sum().backward();
        Close(weight64.grad!, weight.grad!.to(ScalarType.Float64), "weight gradient", 1e-4, 1e-4);
        Close(bias64.grad!, bias.grad!.to(ScalarType.Float64), "bias gradient", 1e-4, 1e-4);
    }

    [Fact]
    public void A_non_contiguous_input_takes_the_generic_path_with_the_same_result()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(9);
        var stored = randn([3, 16, 5, 5], generator: generator); // [C, N, H, W] in memory
        var x = stored.permute(1, 0, 2, 3);                      // [N, C, H, W] view, not contiguous
        Assert.False(GhostBatchNormCpuFunction.Supports(x, null, null));
        var fromView = GhostBatchNormFunction.Forward(x, null, null, null, null, training: true, ghostBatch: 4);
        var fromCopy = GhostBatchNormFunction.Forward(x.contiguous(), null, null, null, null, training: true, ghostBatch: 4);
        Close(fromCopy.to(ScalarType.Float64), fromView.to(ScalarType.Float64), "output", 1e-5, 1e-5);
    }
}
