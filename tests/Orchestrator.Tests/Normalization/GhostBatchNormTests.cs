using Orchestrator.Spec;
using Orchestrator.Trainer.Models;
using Orchestrator.Trainer.Normalization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Tests.Normalization;

public sealed class GhostBatchNormTests
{
    private const long Channels = 3;
    /// <summary>Same shape and bit-identical elements (TorchSharp's <c>equal</c> is element-wise).</summary>
    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();


    private static long[] Shape(bool twoD, long rows) => twoD ? [rows, Channels, 5, 4] : [rows, Channels];

    private static GhostBatchNorm Ghost(bool twoD, long ghost) =>
        (GhostBatchNorm)(twoD ? new GhostBatchNormFactory((int)ghost).Norm2d(Channels) : new GhostBatchNormFactory((int)ghost).Norm1d(Channels));

    private static BatchNorm Plain(bool twoD) => twoD ? nn.BatchNorm2d(Channels) : nn.BatchNorm1d(Channels);

    /// <summary>Dims a BN layer reduces over, per channel.</summary>
    private static long[] ReducedDims(bool twoD) => twoD ? [0, 2, 3] : [0];

    /// <summary>Rows whose chunks differ in location and spread, so per-chunk statistics really differ from the batch's.</summary>
    private static Tensor Input(bool twoD, long rows)
    {
        var shape = Shape(twoD, rows);
        var rowScale = arange(rows, dtype: ScalarType.Float32).div(2).add(0.5);
        var view = new long[shape.Length];
        Array.Fill(view, 1L);
        view[0] = rows;
        return randn(shape) * rowScale.view(view) + rowScale.view(view) * 3;
    }

    /// <summary>Gives both layers the same non-trivial gamma, beta and running statistics.</summary>
    private static void SameState(GhostBatchNorm ghost, BatchNorm plain)
    {
        using var _ = no_grad();
        var gamma = rand(Channels) + 0.5;
        var beta = randn(Channels);
        var mean = randn(Channels);
        var variance = rand(Channels) + 0.5;
        ghost.Weight.copy_(gamma); plain.weight.copy_(gamma);
        ghost.Bias.copy_(beta); plain.bias!.copy_(beta);
        ghost.RunningMean.copy_(mean); plain.running_mean!.copy_(mean);
        ghost.RunningVar.copy_(variance); plain.running_var!.copy_(variance);
    }

    private static void Close(Tensor expected, Tensor actual, string what, double atol = 1e-5)
    {
        Assert.Equal(expected.shape, actual.shape);
        double worst = (expected - actual).abs().max().item<float>();
        Assert.True(actual.allclose(expected, rtol: 1e-5, atol: atol), $"{what}: max abs difference {worst}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Ghost_size_equal_to_the_batch_is_exactly_batch_norm(bool twoD)
    {
        using var scope = NewDisposeScope();
        using var ghost = Ghost(twoD, 16);
        using var plain = Plain(twoD);
        SameState(ghost, plain);
        var x = Input(twoD, 16);
        var xGhost = x.clone().requires_grad_();
        var xPlain = x.clone().requires_grad_();
        var upstream = randn(x.shape);

        var yGhost = ghost.forward(xGhost);
        var yPlain = plain.forward(xPlain);
        (yGhost * upstream).sum().backward();
        (yPlain * upstream).sum().backward();

        Assert.True(Same(yPlain, yGhost), "output");
        Assert.True(Same(xPlain.grad!, xGhost.grad!), "input gradient");
        Assert.True(Same(plain.weight.grad!, ghost.Weight.grad!), "weight gradient");
        Assert.True(Same(plain.bias!.grad!, ghost.Bias.grad!), "bias gradient");
        Assert.True(Same(plain.running_mean!, ghost.RunningMean), "running mean");
        Assert.True(Same(plain.running_var!, ghost.RunningVar), "running var");
        Assert.Equal(1L, ghost.NumBatchesTracked.item<long>());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Each_chunk_is_normalized_with_its_own_statistics_as_batch_norm_of_that_chunk_alone(bool twoD)
    {
        using var scope = NewDisposeScope();
        const long rows = 24, size = 6;
        using var ghost = Ghost(twoD, size);
        var x = Input(twoD, rows);

        // gamma = 1, beta = 0: every chunk comes out with mean 0 and biased variance 1 per channel.
        var y = ghost.forward(x).detach();
        for (long start = 0; start < rows; start += size)
        {
            var chunk = y.narrow(0, start, size);
            var mean = chunk.mean(ReducedDims(twoD));
            var biasedVar = (chunk - mean.view(twoD ? [1, Channels, 1, 1] : [1, Channels])).square().mean(ReducedDims(twoD));
            Close(zeros(Channels), mean, $"chunk at {start}: mean");
            Close(ones(Channels), biasedVar, $"chunk at {start}: biased variance", atol: 1e-3); // eps 1e-5 shrinks it a little
        }
        // Whole-batch statistics would not do that: the chunks differ in location.
        using var whole = Plain(twoD);
        var yWhole = whole.forward(x).detach();
        Assert.True(yWhole.narrow(0, 0, size).mean().abs().item<float>() > 0.1, "batch norm over the whole batch leaves chunk means away from 0");

        // With shared non-trivial gamma and beta: outputs and gradients equal BN applied chunk by chunk.
        using var ghost2 = Ghost(twoD, size);
        using var reference = Plain(twoD);
        SameState(ghost2, reference);
        var xGhost = x.clone().requires_grad_();
        var upstream = randn(x.shape);
        var yGhost = ghost2.forward(xGhost);
        (yGhost * upstream).sum().backward();

        var expectedGrad = zeros_like(x);
        var weightGrad = zeros(Channels);
        var biasGrad = zeros(Channels);
        for (long start = 0; start < rows; start += size)
        {
            var xChunk = x.narrow(0, start, size).clone().requires_grad_();
            reference.zero_grad();
            var yChunk = reference.forward(xChunk);
            (yChunk * upstream.narrow(0, start, size)).sum().backward();
            Close(yChunk.detach(), yGhost.detach().narrow(0, start, size), $"chunk at {start}: output");
            expectedGrad.narrow(0, start, size).copy_(xChunk.grad!);
            weightGrad.add_(reference.weight.grad!);
            biasGrad.add_(reference.bias!.grad!);
        }
        Close(expectedGrad, xGhost.grad!, "input gradient", atol: 1e-4);
        Close(weightGrad, ghost2.Weight.grad!, "weight gradient", atol: 1e-4);
        Close(biasGrad, ghost2.Bias.grad!, "bias gradient", atol: 1e-4);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Running_statistics_are_one_momentum_update_per_chunk_in_order(bool twoD)
    {
        using var scope = NewDisposeScope();
        const long rows = 20, size = 5, k = rows / size;
        using var ghost = Ghost(twoD, size);
        using var sequential = Plain(twoD);
        SameState(ghost, sequential);
        var initialMean = ghost.RunningMean.clone();
        var initialVar = ghost.RunningVar.clone();
        var x = Input(twoD, rows);

        ghost.forward(x);

        // (a) BatchNorm applied to each chunk in turn.
        using (no_grad())
            for (long start = 0; start < rows; start += size)
                sequential.forward(x.narrow(0, start, size));
        Close(sequential.running_mean!, ghost.RunningMean, "running mean vs sequential BN", atol: 1e-6);
        Close(sequential.running_var!, ghost.RunningVar, "running var vs sequential BN", atol: 1e-6);

        // (b) The closed form r = 0.9^k r + sum_l 0.1 * 0.9^(k-l) stat_l, in double.
        var x64 = x.to(ScalarType.Float64);
        var mean = initialMean.to(ScalarType.Float64) * Math.Pow(0.9, k);
        var variance = initialVar.to(ScalarType.Float64) * Math.Pow(0.9, k);
        for (long l = 1; l <= k; l++)
        {
            var chunk = x64.narrow(0, (l - 1) * size, size);
            var chunkMean = chunk.mean(ReducedDims(twoD));
            long count = chunk.numel() / Channels;
            var centered = chunk - chunkMean.view(twoD ? [1, Channels, 1, 1] : [1, Channels]);
            var unbiasedVar = centered.square().sum(ReducedDims(twoD)) / (count - 1);
            double weight = 0.1 * Math.Pow(0.9, k - l);
            mean += chunkMean * weight;
            variance += unbiasedVar * weight;
        }
        Close(mean.to(ScalarType.Float32), ghost.RunningMean, "running mean vs closed form", atol: 1e-6);
        Close(variance.to(ScalarType.Float32), ghost.RunningVar, "running var vs closed form", atol: 1e-6);
        Assert.Equal(k, ghost.NumBatchesTracked.item<long>());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Eval_mode_is_batch_norm_with_the_running_statistics(bool twoD)
    {
        using var scope = NewDisposeScope();
        using var ghost = Ghost(twoD, 4);
        using var plain = Plain(twoD);
        SameState(ghost, plain);
        for (int step = 0; step < 3; step++) ghost.forward(Input(twoD, 16));
        using (no_grad())
        {
            plain.running_mean!.copy_(ghost.RunningMean);
            plain.running_var!.copy_(ghost.RunningVar);
        }
        ghost.eval();
        plain.eval();
        var x = Input(twoD, 7);
        var before = ghost.RunningMean.clone();

        Assert.True(Same(plain.forward(x), ghost.forward(x)), "eval output");
        Assert.True(Same(before, ghost.RunningMean), "eval leaves the running statistics alone");
        Assert.Equal(12L, ghost.NumBatchesTracked.item<long>());
    }

    [Fact]
    public void Chunk_sizes_fold_the_remainder_into_the_last_chunk()
    {
        Assert.Equal([4L, 4, 4], GhostBatchNormFunction.ChunkSizes(12, 4));
        Assert.Equal([4L, 6], GhostBatchNormFunction.ChunkSizes(10, 4));
        Assert.Equal([5L], GhostBatchNormFunction.ChunkSizes(5, 3));
        Assert.Equal([6L], GhostBatchNormFunction.ChunkSizes(6, 16));
        Assert.Equal([2L, 2, 3], GhostBatchNormFunction.ChunkSizes(7, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => GhostBatchNormFunction.ChunkSizes(4, 0));
    }

    [Theory]
    [InlineData(false, 10, 4)] // chunks 4, 6
    [InlineData(true, 10, 4)]
    [InlineData(true, 11, 3)]  // chunks 3, 3, 5
    [InlineData(false, 5, 3)]  // one chunk of 5
    [InlineData(false, 6, 16)] // fewer rows than a ghost batch: one chunk of 6
    [InlineData(true, 6, 16)]
    public void Uneven_and_short_batches_match_batch_norm_chunk_by_chunk(bool twoD, long rows, long size)
    {
        using var scope = NewDisposeScope();
        var sizes = GhostBatchNormFunction.ChunkSizes(rows, size);
        using var ghost = Ghost(twoD, size);
        using var sequential = Plain(twoD);
        SameState(ghost, sequential);
        var x = Input(twoD, rows);
        var xGhost = x.clone().requires_grad_();
        var y = ghost.forward(xGhost);
        y.square().sum().backward();

        long start = 0;
        foreach (var chunkRows in sizes)
        {
            var xChunk = x.narrow(0, start, chunkRows).clone().requires_grad_();
            var yChunk = sequential.forward(xChunk);
            yChunk.square().sum().backward();
            Close(yChunk.detach(), y.detach().narrow(0, start, chunkRows), $"chunk at {start} ({chunkRows} rows): output");
            Close(xChunk.grad!, xGhost.grad!.narrow(0, start, chunkRows), $"chunk at {start}: input gradient", atol: 1e-4);
            start += chunkRows;
        }
        Close(sequential.running_mean!, ghost.RunningMean, "running mean", atol: 1e-6);
        Close(sequential.running_var!, ghost.RunningVar, "running var", atol: 1e-6);
        Assert.Equal(sizes.Length, ghost.NumBatchesTracked.item<long>());
    }

    [Fact]
    public void The_function_alone_needs_no_module()
    {
        using var scope = NewDisposeScope();
        var x = Input(true, 8);
        var runningMean = zeros(Channels);
        var runningVar = ones(Channels);
        var y = GhostBatchNormFunction.Forward(x, runningMean, runningVar, null, null, training: true, ghostBatch: 4);
        var expected = cat([
            nn.functional.batch_norm(x.narrow(0, 0, 4), zeros(Channels), ones(Channels), training: true),
            nn.functional.batch_norm(x.narrow(0, 4, 4), zeros(Channels), ones(Channels), training: true)], 0);
        Close(expected, y, "output");
        Assert.False(Same(zeros(Channels), runningMean), "running mean was updated");
        // Without running statistics it still normalizes (nothing to update).
        Close(expected, GhostBatchNormFunction.Forward(x, null, null, null, null, training: true, ghostBatch: 4), "output without running stats");
    }

    [Fact]
    public void Ghost_batch_models_have_batch_norm_state_names_and_run()
    {
        var input = new ModelInput(1, 12, 12, 5);
        foreach (var kind in Enum.GetValues<ModelKind>())
        {
            using var scope = NewDisposeScope();
            using var ghostModel = ModelRegistry.Create(new ModelSpec(kind, 2, NormKind.GhostBatch), input, ghostBatch: 4);
            using var batchModel = ModelRegistry.Create(new ModelSpec(kind, 2, NormKind.Batch), input);
            Assert.Equal(batchModel.state_dict().Keys.Order(), ghostModel.state_dict().Keys.Order());
            Assert.Contains(ghostModel.modules(), m => m is GhostBatchNorm);
            ghostModel.train();
            var logits = ghostModel.forward(randn(10, 1, 12, 12));
            Assert.Equal(new long[] { 10, 5 }, logits.shape);
            logits.sum().backward();
            Assert.All(ghostModel.parameters(), p => Assert.NotNull(p.grad));
        }
    }

    [Fact]
    public void Converting_the_layer_converts_the_tensors_it_uses()
    {
        using var scope = NewDisposeScope();
        using var ghost = Ghost(true, 4);
        ghost.to(ScalarType.Float64);
        Assert.All(ghost.parameters(), p => Assert.Equal(ScalarType.Float64, p.dtype));
        Assert.Equal(ScalarType.Float64, ghost.RunningMean.dtype);
        var y = ghost.forward(Input(true, 8).to(ScalarType.Float64));
        Assert.Equal(ScalarType.Float64, y.dtype);
        // The registered buffer is the one the layer updates, so a checkpoint saves the live statistics.
        var saved = ghost.state_dict()["running_mean"];
        Assert.True(Same(ghost.RunningMean, saved));
        Assert.False(Same(zeros(Channels, dtype: ScalarType.Float64), saved), "running mean was updated after conversion");
    }

    [Fact]
    public void Ghost_batch_norm_needs_a_positive_ghost_size()
    {
        Assert.IsType<GhostBatchNormFactory>(NormalizationRegistry.Create(NormKind.GhostBatch, 32));
        // The spec validator asks for training.ghost_batch >= 2; the factory still refuses a size it cannot use.
        Assert.Throws<ArgumentOutOfRangeException>(() => NormalizationRegistry.Create(NormKind.GhostBatch));
    }
}
