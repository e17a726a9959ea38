using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Normalization;
using Orchestrator.Trainer.PostTraining.AdaQuant;
using Orchestrator.Trainer.PostTraining.Calibration;
using Orchestrator.Trainer.PostTraining.Quantization;
using Orchestrator.Trainer.PostTraining.Report;
using Orchestrator.Trainer.Training;
using TorchSharp;
using TorchSharp.Modules;
using TensorDataset = Orchestrator.Trainer.Data.TensorDataset;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.PostTraining;

/// <summary>
/// Post-training quantization of a trained model (CalibTIP, ALGORITHMS.md section 9): calibration inputs from a source;
/// per conv/linear layer, AdaQuant from the layer's cached full-precision inputs and outputs at each candidate width;
/// for mixed widths, each layer's loss increase per width and the exact integer program (<see cref="BitAllocator"/>) under
/// the weight-bit budget; then BN re-estimation and bias tuning, each kept only when it lowers the held-out calibration
/// loss. The test accuracy after each stage comes from the training <see cref="Evaluator"/>.
/// </summary>
/// <remarks>
/// Simulated quantization: weights hold their dequantized values in fp32 and inputs are quantize-dequantized by forward
/// pre-hooks, so the arithmetic is fp32 and nothing runs faster. The calibration loss is label-free (real and synthetic
/// inputs alike): the KL divergence of the quantized model's output distribution from the full-precision one's.
/// </remarks>
public sealed class PostTrainingQuantizer
{
    private const int ForwardBatch = 250;
    private readonly nn.Module<Tensor, Tensor> model;
    private readonly IReadOnlyList<QuantizableLayer> layers;
    private readonly IQuantizeProgress progress;

    private PostTrainingQuantizer(nn.Module<Tensor, Tensor> model, IQuantizeProgress progress)
    {
        this.model = model;
        this.progress = progress;
        layers = QuantizableLayer.Of(model);
    }

    /// <summary>The model's quantized layers and how each runs, and the hooks that quantize their inputs (dispose to remove).</summary>
    public sealed record Outcome(QuantizeReport Report, IReadOnlyList<LayerQuantization> Plan, ActivationQuantization Hooks);

    /// <summary>
    /// Quantizes <paramref name="model"/> in place (weights replaced by their quantized values, input hooks attached) and
    /// reports. <paramref name="describe"/> fills the report's run fields.
    /// </summary>
    public static Outcome Run(nn.Module<Tensor, Tensor> model, TensorDataset test, ICalibrationSource source, QuantizeOptions options,
        string reportDirectory, IQuantizeProgress progress, Func<QuantizeReport, QuantizeReport> describe) =>
        new PostTrainingQuantizer(model, progress).Quantize(test, source, options, reportDirectory, describe);

    private Outcome Quantize(TensorDataset test, ICalibrationSource source, QuantizeOptions o, string reportDirectory,
        Func<QuantizeReport, QuantizeReport> describe)
    {
        var stages = new List<StageReport>();
        progress.Stage("evaluating fp32");
        var fp32 = Evaluator.Evaluate(model, test);
        stages.Add(new StageReport("fp32", fp32.Accuracy, fp32.Loss, true));

        progress.Stage($"calibration inputs ({source.Name})");
        model.eval();
        using var calibration = source.Create(model, o.Samples, o.Seed, reportDirectory, progress.Report);
        model.eval();
        var images = calibration.Images;
        int n = (int)images.shape[0];
        int held = n >= 5 ? n / 5 : 0;
        var fitImages = images.narrow(0, 0, n - held);
        var heldImages = held > 0 ? images.narrow(0, n - held, held) : fitImages;
        // Reference rows of the held-out images (all of them when too few samples leave none out).
        int heldStart = held > 0 ? n - held : 0, heldCount = held > 0 ? held : n;
        using var reference = Logits(images);

        var original = layers.Select(l => (Weight: l.Weight.detach().clone(), Bias: l.Bias?.detach().clone())).ToList();
        var results = new List<Dictionary<int, AdaQuantResult>>();
        var lossIncrease = new List<Dictionary<int, double>?>();
        try
        {
            var widths = o.Bits.Widths();
            for (int l = 0; l < layers.Count; l++)
            {
                var layer = layers[l];
                var (x, y) = LayerActivations.Capture(model, layer, images);
                using (x)
                using (y)
                {
                    var fit = (x.narrow(0, 0, n - held), y.narrow(0, 0, n - held));
                    var heldOut = held > 0 ? (x.narrow(0, n - held, held), y.narrow(0, n - held, held)) : fit;
                    var perWidth = new Dictionary<int, AdaQuantResult>();
                    results.Add(perWidth);
                    foreach (int bits in widths)
                    {
                        progress.Stage($"AdaQuant {layer.Name} (W{bits}A{o.ActivationBits})");
                        perWidth[bits] = LayerAdaQuant.Quantize(layer, fit, heldOut, bits, o.ActivationBits,
                            o.AdaQuant with { Seed = o.AdaQuant.Seed + l }, progress.Report);
                    }
                }
                lossIncrease.Add(o.Bits == WeightBitsMode.Mixed ? widths.ToDictionary(b => b, b => LayerLossIncrease(l, results[l][b], original[l], images, reference)) : null);
            }

            // The widths: one for all, or the integer program's choice.
            string? allocation = null;
            long? budgetBits = null;
            int[] chosen;
            if (o.Bits == WeightBitsMode.Mixed)
            {
                var options = layers.Select((layer, l) => new LayerBitOptions(layer.Name, layer.WeightCount,
                    lossIncrease[l]!.Select(p => (p.Key, p.Value)).ToList())).ToList();
                budgetBits = BitAllocator.BudgetBits(options, o.Budget);
                var plan = BitAllocator.Solve(options, budgetBits.Value);
                chosen = plan.Bits.ToArray();
                allocation = "exact: dynamic programming over the layers on the Pareto frontier of (weight bits, loss increase)";
            }
            else
            {
                chosen = layers.Select(_ => o.Bits.Widths()[0]).ToArray();
            }

            var roundingPlan = Plan(chosen, l => results[l][chosen[l]].Rounding, o.ActivationBits);
            var adaQuantPlan = Plan(chosen, l => results[l][chosen[l]].Result, o.ActivationBits);

            // Stage: plain rounding (calibrated ranges), for comparison.
            for (int l = 0; l < layers.Count; l++) Load(layers[l], results[l][chosen[l]].Rounding);
            using (new ActivationQuantization(layers, roundingPlan)) Stage(stages, "rounding", test, true);

            // Stage: AdaQuant.
            for (int l = 0; l < layers.Count; l++) Load(layers[l], results[l][chosen[l]].Result);
            var hooks = new ActivationQuantization(layers, adaQuantPlan);
            try
            {
                Stage(stages, "adaquant", test, true);
                double loss = CalibrationLoss(heldImages, reference, heldStart, heldCount);
                loss = ReestimateNorms(stages, test, fitImages, heldImages, reference, heldStart, heldCount, loss);
                TuneBiases(stages, test, hooks, fitImages, heldImages, reference, heldStart, heldCount, loss, o);
            }
            catch
            {
                hooks.Dispose();
                throw;
            }

            var final = stages[^1];
            var layerReports = layers.Select((layer, l) =>
            {
                var r = results[l][chosen[l]];
                var q = adaQuantPlan[l];
                return new LayerReport(layer.Name, layer.Kind, layer.WeightCount, chosen[l], o.ActivationBits, q.ActivationMin, q.ActivationMax,
                    r.RoundingMse, r.OptimizedMse, r.UsedAdaQuant ? "adaquant" : "rounding",
                    lossIncrease[l]?.ToDictionary(p => $"w{p.Key}", p => p.Value));
            }).ToList();
            var report = new QuantizeReport("", "", 0, "", o.Bits.Name(), o.Bits == WeightBitsMode.Mixed ? o.Budget : null, source.Name, n, held, o.Seed,
                o.AdaQuant.Iterations, allocation, budgetBits, layerReports, Size(chosen), stages, fp32.Accuracy, final.TestAccuracy, final.TestLoss,
                "simulated: weights hold their dequantized values in fp32 and inputs are quantize-dequantized in fp32; no speed-up",
                calibration.Report);
            return new Outcome(describe(report), adaQuantPlan, hooks);
        }
        finally
        {
            foreach (var (w, b) in original) { w.Dispose(); b?.Dispose(); }
            foreach (var r in results.SelectMany(d => d.Values)) r.Dispose();
        }
    }

    private List<LayerQuantization> Plan(int[] chosen, Func<int, QuantizedWeights> weights, int activationBits) =>
        chosen.Select((bits, l) => new LayerQuantization(layers[l].Name, bits, activationBits, weights(l).ActivationMin, weights(l).ActivationMax)).ToList();

    private void Stage(List<StageReport> stages, string name, TensorDataset test, bool kept, string? note = null)
    {
        progress.Stage($"evaluating after {name}");
        var (loss, accuracy) = Evaluator.Evaluate(model, test);
        model.eval();
        stages.Add(new StageReport(name, accuracy, loss, kept, note));
    }

    /// <summary>
    /// BN re-estimation: the running statistics recomputed with the quantized layers over the fit samples, kept when it
    /// lowers the held-out calibration loss.
    /// </summary>
    private double ReestimateNorms(List<StageReport> stages, TensorDataset test, Tensor fit, Tensor held, Tensor reference, int heldStart, int heldCount, double before)
    {
        var norms = model.modules().Where(m => m is NormBase or GhostBatchNorm or RangeBatchNorm).ToList();
        if (norms.Count == 0) return before;
        progress.Stage("BN re-estimation");
        var snapshot = norms.SelectMany(m => m.buffers()).Select(b => b.detach().clone()).ToList();
        var device = layers[0].Weight.device;
        RunningStatsReestimation.Reestimate(model, Batches(fit, 100).Select(b => b.to(device)));
        model.eval();
        double after = CalibrationLoss(held, reference, heldStart, heldCount);
        bool keep = after < before;
        if (!keep)
        {
            using var noGrad = no_grad();
            foreach (var (buffer, saved) in norms.SelectMany(m => m.buffers()).Zip(snapshot)) buffer.copy_(saved);
        }
        foreach (var saved in snapshot) saved.Dispose();
        progress.Notice($"BN re-estimation {(keep ? "kept" : "reverted")}: held-out calibration loss {before:G4} -> {after:G4}");
        Stage(stages, "bn re-estimation", test, keep, keep ? null : "reverted: it raised the held-out calibration loss");
        return keep ? after : before;
    }

    /// <summary>
    /// Bias tuning: Adam on every 1-D parameter (biases, normalization scale and shift) with the weights fixed, minimising
    /// the calibration loss on the fit samples; rounding of the inputs passed straight through. Kept when it lowers the
    /// held-out calibration loss.
    /// </summary>
    private void TuneBiases(List<StageReport> stages, TensorDataset test, ActivationQuantization hooks, Tensor fit, Tensor held, Tensor reference,
        int heldStart, int heldCount, double before, QuantizeOptions o)
    {
        if (o.BiasTuningIterations == 0) return;
        var parameters = model.parameters().ToList();
        var tuned = parameters.Where(p => p.dim() == 1).ToList();
        if (tuned.Count == 0) return;
        progress.Stage("bias tuning");
        var snapshot = tuned.Select(p => p.detach().clone()).ToList();
        var device = layers[0].Weight.device;
        var requires = parameters.Select(p => p.requires_grad).ToList();
        foreach (var p in parameters) p.requires_grad = p.dim() == 1;
        hooks.StraightThrough = true;
        try
        {
            using var adam = optim.Adam(tuned, lr: 1e-3);
            using var generator = new Generator((ulong)(o.Seed + 7919));
            long rows = fit.shape[0];
            int batch = (int)Math.Min(o.AdaQuant.BatchSize, rows);
            model.eval();
            for (int i = 0; i < o.BiasTuningIterations; i++)
            {
                using var scope = NewDisposeScope();
                var index = randperm(rows, generator: generator).narrow(0, 0, batch);
                var logits = model.forward(fit.index_select(0, index).to(device));
                var loss = Kl(reference.narrow(0, 0, rows).index_select(0, index).to(device), logits);
                adam.zero_grad();
                loss.backward();
                adam.step();
                if ((i + 1) % 10 == 0) progress.Report((i + 1) / (double)o.BiasTuningIterations);
            }
        }
        finally
        {
            hooks.StraightThrough = false;
            for (int p = 0; p < parameters.Count; p++) parameters[p].requires_grad = requires[p];
            foreach (var p in parameters) p.grad?.Dispose();
            model.zero_grad();
        }
        double after = CalibrationLoss(held, reference, heldStart, heldCount);
        bool keep = after < before;
        if (!keep)
        {
            using var noGrad = no_grad();
            foreach (var (p, saved) in tuned.Zip(snapshot)) p.copy_(saved);
        }
        foreach (var saved in snapshot) saved.Dispose();
        progress.Notice($"bias tuning {(keep ? "kept" : "reverted")}: held-out calibration loss {before:G4} -> {after:G4}");
        Stage(stages, "bias tuning", test, keep, keep ? null : "reverted: it raised the held-out calibration loss");
    }

    /// <summary>The KL loss with only layer <paramref name="l"/> quantized as <paramref name="q"/> (the integer program's cost).</summary>
    private double LayerLossIncrease(int l, AdaQuantResult q, (Tensor Weight, Tensor? Bias) original, Tensor images, Tensor reference)
    {
        Load(layers[l], q.Result);
        try
        {
            using var hook = new ActivationQuantization(layers, [new LayerQuantization(layers[l].Name, q.WeightBits, q.ActivationBits, q.Result.ActivationMin, q.Result.ActivationMax)]);
            return CalibrationLoss(images, reference, 0, (int)images.shape[0]);
        }
        finally
        {
            Load(layers[l], new QuantizedWeights(original.Weight, original.Bias, 0, 0), dispose: false);
        }
    }

    /// <summary>Mean KL divergence of the model's output distribution from the full-precision one (reference rows from <paramref name="start"/>).</summary>
    private double CalibrationLoss(Tensor images, Tensor reference, int start, int count)
    {
        model.eval();
        using var noGrad = no_grad();
        var device = layers[0].Weight.device;
        double sum = 0;
        for (int offset = 0; offset < count; offset += ForwardBatch)
        {
            using var scope = NewDisposeScope();
            int rows = Math.Min(ForwardBatch, count - offset);
            var logits = model.forward(images.narrow(0, offset, rows).to(device));
            sum += Kl(reference.narrow(0, start + offset, rows).to(device), logits).item<float>() * (double)rows;
        }
        return sum / count;
    }

    /// <summary>KL(p_reference || p_logits), mean over rows.</summary>
    private static Tensor Kl(Tensor referenceLogits, Tensor logits)
    {
        var p = referenceLogits.log_softmax(1);
        var q = logits.log_softmax(1);
        return p.exp().mul(p.sub(q)).sum(1).mean();
    }

    private Tensor Logits(Tensor images)
    {
        model.eval();
        using var noGrad = no_grad();
        var device = layers[0].Weight.device;
        var parts = new List<Tensor>();
        foreach (var batch in Batches(images, ForwardBatch))
        {
            using var scope = NewDisposeScope();
            parts.Add(model.forward(batch.to(device)).cpu().MoveToOuterDisposeScope());
        }
        var all = cat(parts, 0);
        foreach (var part in parts) part.Dispose();
        return all;
    }

    private static IEnumerable<Tensor> Batches(Tensor images, int size)
    {
        for (long start = 0; start < images.shape[0]; start += size)
            yield return images.narrow(0, start, Math.Min(size, images.shape[0] - start));
    }

    private static void Load(QuantizableLayer layer, QuantizedWeights q, bool dispose = false)
    {
        using var noGrad = no_grad();
        layer.Weight.copy_(q.Weight);
        if (q.Bias is not null) layer.Bias?.copy_(q.Bias);
        if (dispose) q.Dispose();
    }

    /// <summary>Bytes of the quantized model and of its fp32 original (see <see cref="SizeReport"/>).</summary>
    private SizeReport Size(int[] bits)
    {
        long weightBytes = 0, fp32WeightBytes = 0, rangeBytes = 0;
        for (int l = 0; l < layers.Count; l++)
        {
            weightBytes += (layers[l].WeightCount * bits[l] + 7) / 8;
            fp32WeightBytes += layers[l].WeightCount * 4;
            rangeBytes += (2 * layers[l].OutputChannels + 2) * 4;
        }
        long everything = model.parameters().Sum(p => p.numel() * 4) + model.buffers().Where(b => b.dtype == ScalarType.Float32).Sum(b => b.numel() * 4);
        long rest = everything - fp32WeightBytes;
        return new SizeReport(weightBytes, fp32WeightBytes, weightBytes / (double)fp32WeightBytes,
            weightBytes + rangeBytes + rest, everything, (weightBytes + rangeBytes + rest) / (double)everything);
    }
}
