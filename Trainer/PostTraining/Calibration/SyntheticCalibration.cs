using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Orchestrator.Spec;
using Orchestrator.Trainer.Devices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.PostTraining.Calibration;

/// <summary>
/// Data-free calibration (<c>--calibration synthetic</c>; "The knowledge within", Haroush et al., ALGORITHMS.md section
/// 10): inputs synthesised from the trained model alone. Images start as N(0, 1) noise (the scale of normalized data,
/// drawn from a generator seeded with the seed) and Adam moves their pixels, one batch of
/// <see cref="SyntheticCalibrationOptions.BatchSize"/> images at a time for <see cref="SyntheticCalibrationOptions.Steps"/>
/// steps, to minimise <see cref="StatisticsMatchingLoss"/>: for every normalization layer l,
/// <c>||mu~_l - mu_l||_2 + ||sigma~_l - sigma_l||_2</c>, where mu~ and sigma~ are the per-channel mean and deviation of
/// the layer's input over the batch (captured by forward pre-hooks, as the layer would compute them in training) and mu,
/// sigma its running statistics (BatchNorm and ghost batch norm: sigma = sqrt(running_var + eps), sigma~ = sqrt(unbiased
/// batch variance + eps); range batch norm: its running sigma^ and the layer's own range estimate, see
/// <see cref="NormLayerTarget"/>).
/// </summary>
/// <remarks>
/// The model stays in eval mode throughout, so its layers normalize by their running statistics and update nothing (a
/// deeper layer's input is thus computed with the running statistics above it, as in the paper's code); no parameter
/// takes a gradient; mode and <c>requires_grad</c> flags are put back as found. Pixels are not clamped to the data's
/// range (the paper does not). Before the first step the model's convolutions go through the trainer's oneDNN
/// self-check (<see cref="ConvolutionSelfCheck"/>), whose switch to the native kernels, where needed, is process-wide:
/// on this project's CPUs oneDNN's input gradient of some shapes reads uninitialized memory, which made identical runs
/// of this optimisation diverge. The report gives the loss and
/// every layer's two gaps (the loss's terms) before the first step and after the last, averaged over the batches
/// weighted by their images, the steps, the time, and the path of a PNG of the first images (and, where oneDNN's
/// convolutions failed the trainer's self-check and the native kernels were switched on, that notice).
/// </remarks>
public sealed class SyntheticCalibration : ICalibrationSource
{
    /// <summary>File name of the picture of the synthetic inputs in the report directory.</summary>
    public const string PictureFile = "synthetic-calibration.png";

    /// <summary>Synthetic calibration with the default settings (inputs shaped like Fashion-MNIST's).</summary>
    public SyntheticCalibration() : this(new SyntheticCalibrationOptions())
    {
    }

    /// <summary>Synthetic calibration with <paramref name="options"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting out of range.</exception>
    public SyntheticCalibration(SyntheticCalibrationOptions options)
    {
        options.Check();
        Options = options;
    }

    /// <summary>The settings.</summary>
    public SyntheticCalibrationOptions Options { get; }

    /// <inheritdoc/>
    public string Name => "synthetic";

    /// <inheritdoc/>
    /// <exception cref="UserFacingException"><paramref name="count"/> below 1; a model without normalization layers
    /// that keep running statistics; a model that does not take inputs of the configured shape.</exception>
    public CalibrationInputs Create(nn.Module<Tensor, Tensor> model, int count, long seed, string reportDirectory, Action<double>? progress)
    {
        if (count < 1) throw new UserFacingException($"calibration: the number of calibration images must be at least 1, got {count}");
        var o = Options;
        var clock = Stopwatch.StartNew();
        var device = model.parameters().Select(p => p.device).Concat(model.buffers().Select(b => b.device)).FirstOrDefault() ?? CPU;
        using var probe = StatisticsGapProbe.Attach(model);
        // Everything here rests on input gradients, which oneDNN gets wrong for some convolution shapes on some CPUs:
        // the trainer's check, and its switch to the native kernels where needed (a no-op once switched or off the CPU).
        var convolutionNotice = ConvolutionSelfCheck.EnsureCorrect(model, device);
        var sizes = BatchSizes(count, o.BatchSize);
        long totalWork = sizes.Sum() * (long)o.Steps, work = 0;
        var before = new StatisticsGapTally(probe.Layers.Count);
        var after = new StatisticsGapTally(probe.Layers.Count);
        var images = empty([count, o.Channels, o.Height, o.Width], ScalarType.Float32);
        try
        {
            using (var frozen = new FrozenModel(model))
            using (var grad = enable_grad())
            // On the CPU, so one seed gives the same starting noise whatever the model's device.
            using (var generator = new Generator((ulong)seed, CPU))
            {
                int filled = 0;
                for (int b = 0; b < sizes.Length; b++)
                {
                    using var start = randn([sizes[b], o.Channels, o.Height, o.Width], ScalarType.Float32, CPU, generator: generator);
                    using var batch = Optimise(probe, start.to(device), before, after, firstBatch: b == 0, () =>
                    {
                        work += sizes[b];
                        progress?.Invoke((double)work / totalWork);
                    });
                    int take = Math.Min(sizes[b], count - filled);
                    if (take > 0)
                    {
                        using var part = batch.narrow(0, 0, take).to(CPU);
                        using var slot = images.narrow(0, filled, take);
                        slot.copy_(part);
                    }
                    filled += take;
                }
            }

            // The report names the picture relative to its own directory: quantize writes into a temporary directory
            // and renames it, so an absolute path would point at a directory that no longer exists.
            string? picture = null;
            int shown = Math.Min(o.GridImages, count);
            if (shown > 0)
            {
                picture = PictureFile;
                using var first = images.narrow(0, 0, shown);
                ImageGrid.WritePng(Path.Combine(reportDirectory, PictureFile), first, o.PixelStats);
            }
            var report = Report(probe.Layers, count, sizes, seed, before, after, clock.Elapsed.TotalSeconds, picture, shown);
            if (convolutionNotice is not null) report["convolution_notice"] = convolutionNotice;
            return new CalibrationInputs(images, report);
        }
        catch
        {
            images.Dispose();
            throw;
        }
    }

    /// <summary>Optimises one batch of images starting at <paramref name="start"/>; returns the images (detached).</summary>
    private Tensor Optimise(StatisticsGapProbe probe, Tensor start, StatisticsGapTally before, StatisticsGapTally after, bool firstBatch, Action stepDone)
    {
        var o = Options;
        long rows = start.shape[0];
        using var pixels = new Parameter(start, requires_grad: true);
        using var adam = optim.Adam([pixels], lr: o.LearningRate);
        for (int step = 0; step < o.Steps; step++)
        {
            using var scope = NewDisposeScope();
            adam.zero_grad();
            var (loss, gaps) = firstBatch && step == 0 ? FirstEvaluation(probe, pixels) : probe.Evaluate(pixels);
            if (step == 0) before.Add(rows, loss, gaps);
            loss.backward();
            adam.step();
            stepDone();
        }
        using (var scope = NewDisposeScope())
        using (var noGrad = no_grad())
        {
            var (loss, gaps) = probe.Evaluate(pixels);
            after.Add(rows, loss, gaps);
        }
        return pixels.detach().clone();
    }

    /// <summary>The first forward, where a model that takes another input shape fails.</summary>
    private (Tensor Loss, (double Mean, double Std)?[] Gaps) FirstEvaluation(StatisticsGapProbe probe, Tensor input)
    {
        try
        {
            return probe.Evaluate(input);
        }
        catch (Exception e) when (e is ExternalException or ArgumentException)
        {
            var o = Options;
            throw new UserFacingException($"calibration: the model does not take synthetic inputs of {o.Channels}x{o.Height}x{o.Width} "
                + $"pixels (set the input shape to the training data's): {e.Message.Split('\n')[0]}");
        }
    }

    /// <summary>
    /// Batches for <paramref name="count"/> images: ceil(count / batch) of them, as equal as can be, each of at least 2
    /// images (batch statistics of one image do not exist; a single image is optimised in a batch of 2 and the first
    /// returned).
    /// </summary>
    internal static int[] BatchSizes(int count, int batch)
    {
        int n = Math.Max(count, 2);
        int batches = Math.Min((n + batch - 1) / batch, n / 2);
        var sizes = new int[batches];
        for (int b = 0; b < batches; b++) sizes[b] = n / batches + (b < n % batches ? 1 : 0);
        return sizes;
    }

    private JsonObject Report(IReadOnlyList<NormLayerTarget> layers, int count, int[] sizes, long seed, StatisticsGapTally before,
        StatisticsGapTally after, double seconds, string? picture, int shown) => new()
    {
        ["source"] = Name,
        ["images"] = count,
        ["seed"] = seed,
        ["batches"] = sizes.Length,
        ["batch_size"] = Options.BatchSize,
        ["steps"] = Options.Steps,
        ["learning_rate"] = Options.LearningRate,
        ["loss"] = "sum over normalization layers of ||batch mean - running mean||_2 + ||batch std - running std||_2",
        ["loss_before"] = StatisticsGapTally.Number(before.Loss),
        ["loss_after"] = StatisticsGapTally.Number(after.Loss),
        ["seconds"] = seconds,
        ["layers"] = StatisticsGapTally.Layers(layers, l =>
        [
            ("mean_gap_before", before.MeanGap(l)), ("mean_gap_after", after.MeanGap(l)),
            ("std_gap_before", before.StdGap(l)), ("std_gap_after", after.StdGap(l)),
        ]),
        ["picture"] = picture,
        ["picture_images"] = shown,
    };
}
