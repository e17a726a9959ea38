using Orchestrator.Trainer.LowPrecision;
using Orchestrator.Trainer.PostTraining.Quantization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.PostTraining.AdaQuant;

/// <summary>
/// AdaQuant for one layer (CalibTIP, ALGORITHMS.md section 9): from the layer's cached full-precision inputs X and
/// outputs Y, minimise MSE(Q_layer(X), Y) over the weights, the bias and the quantization ranges (weights per output
/// channel, input per tensor), rounding passed straight through. Starts from plain rounding: each channel's weight
/// min/max and the input's calibrated range (Banner's: each sample's min and max, averaged). The optimum is compared
/// with plain rounding on held-out samples, and the better of the two is returned.
/// </summary>
public static class LayerAdaQuant
{
    /// <summary>Quantizes <paramref name="layer"/> to <paramref name="weightBits"/>/<paramref name="activationBits"/>.</summary>
    /// <param name="layer">The layer (its parameters are read, never changed).</param>
    /// <param name="fit">Cached (input, full-precision output) the optimiser sees.</param>
    /// <param name="heldOut">Cached pairs that judge AdaQuant against rounding (may be the fit pairs when there are too few samples).</param>
    /// <param name="progress">Told the fraction of iterations done; may be null.</param>
    public static AdaQuantResult Quantize(QuantizableLayer layer, (Tensor X, Tensor Y) fit, (Tensor X, Tensor Y) heldOut,
        int weightBits, int activationBits, AdaQuantSettings settings, Action<double>? progress = null)
    {
        var weight0 = layer.Weight.detach();
        var bias0 = layer.Bias?.detach();
        var (wMin0, wMax0) = FakeQuantization.ChannelRange(weight0);
        var (aMin0, aMax0) = RangeQuantizer.BatchRange(fit.X);
        QuantizedWeights rounding, optimized;
        double roundingMse, optimizedMse;
        try
        {
            using (no_grad())
            {
                rounding = new QuantizedWeights(FakeQuantization.Apply(weight0, wMin0, wMax0, weightBits), bias0?.clone(),
                    aMin0.item<float>(), aMax0.item<float>());
                roundingMse = Mse(layer, rounding, heldOut, activationBits);
            }
            optimized = Optimize(layer, fit, weight0, bias0, (wMin0, wMax0), (aMin0, aMax0), weightBits, activationBits, settings, progress);
            // An optimiser that diverged (non-finite values) lost: rounding is kept.
            using (no_grad()) optimizedMse = Finite(optimized) ? Mse(layer, optimized, heldOut, activationBits) : double.PositiveInfinity;
        }
        finally
        {
            wMin0.Dispose(); wMax0.Dispose(); aMin0.Dispose(); aMax0.Dispose();
        }
        bool better = double.IsFinite(optimizedMse) && optimizedMse < roundingMse;
        if (!better) optimized.Dispose();
        return new AdaQuantResult(weightBits, activationBits, rounding, better ? optimized : rounding, roundingMse, optimizedMse, better);
    }

    /// <summary>Mean squared error of the quantized layer's output against the full-precision outputs, over all pairs.</summary>
    public static double Mse(QuantizableLayer layer, QuantizedWeights q, (Tensor X, Tensor Y) pairs, int activationBits, int batchSize = 500)
    {
        using var noGrad = no_grad();
        double sum = 0;
        long count = 0;
        long rows = pairs.X.shape[0];
        var device = layer.Weight.device;
        using var min = tensor(q.ActivationMin, device: device);
        using var max = tensor(q.ActivationMax, device: device);
        for (long start = 0; start < rows; start += batchSize)
        {
            using var scope = NewDisposeScope();
            long n = Math.Min(batchSize, rows - start);
            var x = RangeQuantizer.Quantize(pairs.X.narrow(0, start, n).to(device), min, max, activationBits, null);
            var y = layer.Compute(x, q.Weight, q.Bias);
            var target = pairs.Y.narrow(0, start, n).to(device);
            sum += y.sub(target).square().sum().item<float>();
            count += target.numel();
        }
        return sum / count;
    }

    private static bool Finite(QuantizedWeights q) =>
        float.IsFinite(q.ActivationMin) && float.IsFinite(q.ActivationMax) && q.Weight.isfinite().all().item<bool>()
        && (q.Bias is null || q.Bias.isfinite().all().item<bool>());

    private static QuantizedWeights Optimize(QuantizableLayer layer, (Tensor X, Tensor Y) fit, Tensor weight0, Tensor? bias0,
        (Tensor Min, Tensor Max) weightRange, (Tensor Min, Tensor Max) activationRange, int weightBits, int activationBits,
        AdaQuantSettings settings, Action<double>? progress)
    {
        var device = layer.Weight.device;
        using var weight = new Parameter(weight0.clone());
        using var bias = bias0 is null ? null : new Parameter(bias0.clone());
        using var wMin = new Parameter(weightRange.Min.clone());
        using var wMax = new Parameter(weightRange.Max.clone());
        // Shape [1], not 0-d: TorchSharp's Adam turned 0-d parameters into NaN after a step or two here.
        using var aMin = new Parameter(activationRange.Min.reshape(1).clone());
        using var aMax = new Parameter(activationRange.Max.reshape(1).clone());
        // One Adam per group, as CalibTIP's code has it: each with its own learning rate and Adam's other defaults.
        var optimizers = new List<optim.Optimizer>
        {
            optim.Adam([weight], lr: settings.WeightLr),
            optim.Adam([wMin, wMax], lr: settings.WeightRangeLr),
            optim.Adam([aMin, aMax], lr: settings.ActivationRangeLr),
        };
        if (bias is not null) optimizers.Add(optim.Adam([bias], lr: settings.BiasLr));
        using var generator = new Generator((ulong)settings.Seed);
        long rows = fit.X.shape[0];
        int batch = (int)Math.Min(settings.BatchSize, rows);
        for (int i = 0; i < settings.Iterations; i++)
        {
            using var scope = NewDisposeScope();
            var index = randperm(rows, generator: generator).narrow(0, 0, batch);
            var x = fit.X.index_select(0, index).to(device);
            var target = fit.Y.index_select(0, index).to(device);
            var xq = FakeQuantization.Apply(x, aMin, aMax, activationBits);
            var wq = FakeQuantization.Apply(weight, wMin, wMax, weightBits);
            var loss = nn.functional.mse_loss(layer.Compute(xq, wq, bias), target);
            foreach (var optimizer in optimizers) optimizer.zero_grad();
            loss.backward();
            foreach (var optimizer in optimizers) optimizer.step();
            // A range must stay a range: an upper bound below its lower bound would flip the quantizer.
            using (no_grad())
            {
                wMax.copy_(maximum(wMax, wMin));
                aMax.copy_(maximum(aMax, aMin));
            }
            if (progress is not null && (i + 1) % 20 == 0) progress((i + 1) / (double)settings.Iterations);
        }
        progress?.Invoke(1);
        foreach (var optimizer in optimizers) optimizer.Dispose();
        using (no_grad())
        {
            return new QuantizedWeights(FakeQuantization.Apply(weight, wMin, wMax, weightBits), bias?.detach().clone(),
                aMin.item<float>(), aMax.item<float>());
        }
    }
}
