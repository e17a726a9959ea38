using System.Globalization;
using System.Text.Json.Nodes;
using Orchestrator.Spec;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Models;
using Orchestrator.Trainer.Normalization;
using Orchestrator.Trainer.PostTraining.Calibration;
using SkiaSharp;
using TorchSharp;
using TorchSharp.Modules;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Orchestrator.Tests.PostTraining;

/// <summary>
/// Data-free calibration (issue 16 item 2, ALGORITHMS.md section 10) on small models whose running statistics are those
/// of a known "real" batch: the statistics gap falls, the images are a function of the seed, the model is left as found,
/// bad requests are refused clearly, the picture is a PNG of the documented size.
/// </summary>
public sealed class SyntheticCalibrationTests(ITestOutputHelper output)
{
    private static readonly ModelInput Input = new(1, 8, 8, 3);

    private static string F(double v) => v.ToString("G4", CultureInfo.InvariantCulture);

    /// <summary>
    /// "Real" data unlike N(0, 1) noise: a fixed pattern (a bright off-centre square on a raised background) plus noise,
    /// so every channel's mean and deviation differ from noise's at every layer.
    /// </summary>
    private static Tensor RealImages(int count, long seed)
    {
        using var generator = new Generator((ulong)seed);
        using var scope = NewDisposeScope();
        var pattern = full([1, 1, 8, 8], 1.0f);
        pattern.narrow(2, 1, 4).narrow(3, 2, 4).fill_(3.0f);
        var images = pattern + 0.5f * randn([count, 1, 8, 8], generator: generator);
        return images.MoveToOuterDisposeScope();
    }

    /// <summary>A model with seeded random weights whose running statistics are exactly those of <see cref="RealImages"/>
    /// (seed 7, 64 images), in eval mode.</summary>
    private static nn.Module<Tensor, Tensor> Model(ModelKind kind, NormKind norm, int ghostBatch = 8)
    {
        manual_seed(11);
        var model = ModelRegistry.Create(new ModelSpec(kind, 4, norm), Input, ghostBatch);
        using var real = RealImages(64, seed: 7);
        RunningStatsReestimation.Reestimate(model, [real]);
        model.eval();
        return model;
    }

    private static SyntheticCalibration Source(int steps = 100, int batch = 16, int grid = 16) =>
        new(new SyntheticCalibrationOptions { Channels = 1, Height = 8, Width = 8, Steps = steps, BatchSize = batch, LearningRate = 0.1, GridImages = grid });

    private static double Number(JsonNode? node) => node!.GetValue<double>();

    [Theory]
    [InlineData(ModelKind.Cnn, NormKind.Batch)]
    [InlineData(ModelKind.Cnn, NormKind.GhostBatch)]
    [InlineData(ModelKind.Cnn, NormKind.RangeBatch)]
    [InlineData(ModelKind.Mlp, NormKind.Batch)]
    [InlineData(ModelKind.ResNet20, NormKind.Batch)]
    public void Synthetic_images_bring_every_layers_batch_statistics_close_to_the_running_ones(ModelKind kind, NormKind norm)
    {
        using var dir = new TempDirectory();
        using var model = Model(kind, norm);
        using var inputs = Source().Create(model, 32, seed: 1, dir.Path, null);
        var report = inputs.Report!;
        double before = Number(report["loss_before"]), after = Number(report["loss_after"]);
        var layers = report["layers"]!.AsArray();
        output.WriteLine($"{kind} {norm}: loss {F(before)} -> {F(after)} ({F(after / before)})");
        foreach (var layer in layers)
            output.WriteLine($"  {layer!["name"]}: mean gap {F(Number(layer["mean_gap_before"]))} -> {F(Number(layer["mean_gap_after"]))}, "
                + $"std gap {F(Number(layer["std_gap_before"]))} -> {F(Number(layer["std_gap_after"]))}");

        int norms = model.modules().Count(m => m is BatchNorm or GhostBatchNorm or RangeBatchNorm);
        Assert.True(norms >= 2);
        Assert.Equal(norms, layers.Count); // every norm layer found and reported
        // Adam that did not move the pixels, or moved them the wrong way, leaves the ratio at 1 or above. The ResNet (21
        // norm layers with random weights pulling 8x8 pixels different ways, here to prove the hooks inside residual
        // blocks, which open dispose scopes of their own) gets only to about 0.3 of its start in these 100 steps.
        bool deep = kind == ModelKind.ResNet20;
        Assert.True(after < (deep ? 0.5 : 0.2) * before, $"the loss fell only from {before} to {after}");
        foreach (var layer in deep ? [] : layers)
        {
            Assert.True(Number(layer!["mean_gap_after"]) + Number(layer["std_gap_after"]) < 0.5 * (Number(layer["mean_gap_before"]) + Number(layer["std_gap_before"])),
                $"{layer["name"]}: its gap did not halve");
        }

        // Measured independently of the report, by a hook of the test's own: the first layer's batch statistics of the
        // returned images are far closer to the real batch's than the starting noise's are.
        var targets = NormLayerTarget.Find(model);
        using var generator = new Generator(1);
        using var noise = randn([32, 1, 8, 8], generator: generator);
        double synthetic = FirstLayerGap(model, targets[0], inputs.Images), start = FirstLayerGap(model, targets[0], noise);
        output.WriteLine($"first layer, measured by the test: {F(start)} (noise) -> {F(synthetic)}");
        Assert.True(synthetic < (deep ? 1.0 : 0.2) * start);
        foreach (var target in targets) target.Dispose();
    }

    /// <summary>
    /// ||mean - running mean|| (+ ||std - running std|| where the running deviation is a variance's, not range batch
    /// norm's sigma^) of the first norm layer's input, seen by a forward hook of the test's own.
    /// </summary>
    private static double FirstLayerGap(nn.Module<Tensor, Tensor> model, NormLayerTarget first, Tensor images)
    {
        Tensor? seen = null;
        var hook = first.Module.register_forward_pre_hook((_, x) => { seen = x.detach().clone().DetachFromDisposeScope(); return x; });
        using (no_grad()) model.call(images).Dispose();
        hook.remove();
        using var captured = seen!;
        using var scope = NewDisposeScope();
        var x = captured.reshape(captured.shape[0], captured.shape[1], -1);
        double eps = first.Module is BatchNorm bn ? bn.eps : 1e-5;
        var mean = x.mean([0, 2]);
        var std = (x.var([0, 2]) + eps).sqrt();
        double meanGap = (mean - first.RunningMean).norm().item<float>();
        return first.Module is RangeBatchNorm ? meanGap : meanGap + (std - first.RunningStd).norm().item<float>();
    }

    [Theory]
    [InlineData(NormKind.Batch)]
    [InlineData(NormKind.RangeBatch)]
    public void The_same_seed_gives_the_same_images_and_another_seed_other_images(NormKind norm)
    {
        using var dir = new TempDirectory();
        using var model = Model(ModelKind.Cnn, norm);
        var source = Source(steps: 20, grid: 0);
        using var a = source.Create(model, 20, seed: 5, dir.Path, null);
        using var b = source.Create(model, 20, seed: 5, dir.Path, null);
        using var c = source.Create(model, 20, seed: 6, dir.Path, null);
        Assert.Equal([20L, 1, 8, 8], a.Images.shape);
        Assert.Equal(ScalarType.Float32, a.Images.dtype);
        Assert.True(a.Images.equal(b.Images).all().item<bool>());
        using var difference = (a.Images - c.Images).abs();
        Assert.True(difference.mean().item<float>() > 0.1f, "another seed gave nearly the same images");
    }

    [Fact]
    public void The_gap_of_the_batch_the_running_statistics_came_from_is_zero_and_of_other_real_batches_small()
    {
        using var model = Model(ModelKind.Cnn, NormKind.Batch);
        using var source = RealImages(64, seed: 7);
        using var other = RealImages(64, seed: 8);
        using var generator = new Generator(3);
        using var noise = randn([64, 1, 8, 8], generator: generator);
        double Loss(Tensor images, int batch) => Number(StatisticsGap.Measure(model, images, batch)["loss"]);
        double own = Loss(source, 64), real = Loss(other, 64), random = Loss(noise, 64);
        output.WriteLine($"gap: the running statistics' own batch {F(own)}, another real batch {F(real)}, noise {F(random)}; real in batches of 16 {F(Loss(other, 16))}");
        Assert.True(own < 1e-3, $"the batch the statistics came from is {own} away");
        Assert.True(real > own && real < 0.2 * random);
        var layers = StatisticsGap.Measure(model, other, 16)["layers"]!.AsArray();
        Assert.Equal(["features.norm1", "features.norm2"], layers.Select(l => l!["name"]!.GetValue<string>()));
    }

    [Fact]
    public void The_model_is_left_as_it_was_found()
    {
        using var dir = new TempDirectory();
        using var model = Model(ModelKind.Cnn, NormKind.GhostBatch);
        model.train(); // a mode the source must put back, with one submodule differing from its parent
        var head = model.named_modules().First(m => m.name.EndsWith("norm2")).module;
        head.eval();
        var state = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
        var modes = model.named_modules().ToDictionary(m => m.name, m => m.module.training);
        var frozen = model.named_parameters().First().parameter;
        frozen.requires_grad = false;
        var flags = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.requires_grad);

        using var inputs = Source(steps: 10, grid: 0).Create(model, 16, seed: 1, dir.Path, null);

        foreach (var (name, tensor) in model.state_dict())
            Assert.True(tensor.equal(state[name]).all().item<bool>(), $"{name} changed");
        Assert.True(model.training);
        foreach (var (name, module) in model.named_modules()) Assert.Equal(modes[name], module.training);
        foreach (var (name, parameter) in model.named_parameters())
        {
            Assert.Equal(flags[name], parameter.requires_grad);
            Assert.Null(parameter.grad);
        }
        foreach (var t in state.Values) t.Dispose();
    }

    [Fact]
    public void Too_few_images_and_models_without_batch_statistics_are_refused_clearly()
    {
        using var dir = new TempDirectory();
        using var model = Model(ModelKind.Cnn, NormKind.Batch);
        var count = Assert.Throws<UserFacingException>(() => Source().Create(model, 0, seed: 1, dir.Path, null));
        Assert.Contains("at least 1", count.Message);

        using var plain = Model(ModelKind.Cnn, NormKind.None);
        var none = Assert.Throws<UserFacingException>(() => Source().Create(plain, 8, seed: 1, dir.Path, null));
        Assert.Contains("needs batch-norm statistics", none.Message);
        Assert.Contains("model.norm: none", none.Message);

        var shape = Assert.Throws<UserFacingException>(() =>
            new SyntheticCalibration(new SyntheticCalibrationOptions { Channels = 3, Height = 8, Width = 8 }).Create(model, 4, 1, dir.Path, null));
        Assert.Contains("3x8x8", shape.Message);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void A_single_image_and_uneven_batches_work_and_progress_reaches_one()
    {
        using var dir = new TempDirectory();
        using var model = Model(ModelKind.Cnn, NormKind.Batch);
        var seen = new List<double>();
        using var one = Source(steps: 5, batch: 4, grid: 0).Create(model, 1, seed: 1, dir.Path, seen.Add);
        Assert.Equal([1L, 1, 8, 8], one.Images.shape);
        Assert.True(one.Images.isfinite().all().item<bool>());
        seen.Clear();
        using var odd = Source(steps: 5, batch: 4, grid: 0).Create(model, 11, seed: 1, dir.Path, seen.Add);
        Assert.Equal(11, odd.Images.shape[0]);
        Assert.Equal(3, odd.Report!["batches"]!.GetValue<int>());
        Assert.Equal(3 * 5, seen.Count);
        Assert.True(seen.Zip(seen.Skip(1)).All(p => p.Second > p.First));
        Assert.Equal(1.0, seen[^1], 12);
    }

    [Theory]
    [InlineData(1, 128, new[] { 2 })]
    [InlineData(2, 128, new[] { 2 })]
    [InlineData(3, 2, new[] { 3 })]
    [InlineData(11, 4, new[] { 4, 4, 3 })]
    [InlineData(512, 128, new[] { 128, 128, 128, 128 })]
    [InlineData(513, 128, new[] { 103, 103, 103, 102, 102 })]
    public void Batches_are_near_equal_and_hold_at_least_two_images(int count, int batch, int[] expected) =>
        Assert.Equal(expected, SyntheticCalibration.BatchSizes(count, batch));

    [Fact]
    public void The_picture_is_a_png_of_the_first_images_at_the_documented_size()
    {
        using var dir = new TempDirectory();
        using var model = Model(ModelKind.Cnn, NormKind.Batch);
        using var inputs = Source(steps: 5, grid: 10).Create(model, 12, seed: 1, dir.Path, null);
        Assert.Equal(SyntheticCalibration.PictureFile, inputs.Report!["picture"]!.GetValue<string>()); // relative to the report
        var path = Path.Combine(dir.Path, SyntheticCalibration.PictureFile);
        Assert.Equal(10, inputs.Report["picture_images"]!.GetValue<int>());
        using var png = SKBitmap.Decode(path);
        Assert.NotNull(png);
        // 10 images of 8x8: enlarged 64 / 8 = 8 times, ceil(sqrt(10)) = 4 columns, 3 rows, 2-pixel gaps.
        Assert.Equal(4 * 64 + 5 * 2, png.Width);
        Assert.Equal(3 * 64 + 4 * 2, png.Height);
        Assert.Single(Directory.GetFiles(dir.Path)); // no temporary file left
    }

    [Fact]
    public void The_grid_denormalizes_with_the_channel_statistics_or_stretches_each_image()
    {
        var stats = new ChannelStats([0.5f], [0.25f]);
        using var images = zeros(2, 1, 64, 64);
        images[0].fill_(-2.0f); // x std + mean = 0: black
        images[1].narrow(2, 32, 32).fill_(2.0f); // left half 0.5 (grey), right half 1 (white)
        var (rgba, width, height) = ImageGrid.Render(images, stats);
        Assert.Equal((2 * 64 + 3 * 2, 64 + 2 * 2), (width, height)); // scale 1 at 64 pixels, 2 columns, 1 row
        byte At(int x, int y) => rgba[(y * width + x) * 4];
        Assert.Equal(0, At(2 + 10, 2 + 10));
        Assert.Equal(128, At(2 + 64 + 2 + 10, 2 + 10));
        Assert.Equal(255, At(2 + 64 + 2 + 40, 2 + 10));
        Assert.Equal(255, At(0, 0)); // the gap

        var (stretched, _, _) = ImageGrid.Render(images, null);
        byte S(int x, int y) => stretched[(y * width + x) * 4];
        Assert.Equal(128, S(2 + 10, 2 + 10)); // a constant image: mid-grey
        Assert.Equal(0, S(2 + 64 + 2 + 10, 2 + 10));
        Assert.Equal(255, S(2 + 64 + 2 + 40, 2 + 10));
    }
}
