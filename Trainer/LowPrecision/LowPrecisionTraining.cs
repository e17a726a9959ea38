using System.Diagnostics;
using Orchestrator.Spec;
using Orchestrator.Trainer.Models;
using Orchestrator.Trainer.Training;

namespace Orchestrator.Trainer.LowPrecision;

/// <summary>
/// One worker's low-precision and sparse training (ALGORITHMS.md sections 5, 7, 8): the settings its
/// <see cref="LowPrecisionLayer"/>s follow, the layers themselves, and what changes per step (the step that seeds
/// backward's randomness, mask recomputation every <c>recompute_every</c> steps, measured gradient sparsity, mask time).
/// Every random draw is a pure function of (seed, step, rank, layer, call), so a resumed run draws the same.
/// </summary>
public sealed class LowPrecisionTraining
{
    private readonly List<LowPrecisionLayer> layers = [];
    private readonly long seed;
    private readonly int rank;
    private readonly GradientTransform edgeTransform;
    private long step;
    private long draws;
    private double maskSeconds;
    private long maskRecomputations;
    private double totalMaskSeconds;
    private double sparsitySum;
    private long sparsitySteps;

    /// <param name="quantize">training.quantize; null = fp32.</param>
    /// <param name="gradientSparsity">training.gradient_sparsity; null = dense gradients.</param>
    /// <param name="masks">model.weight_sparsity; null = dense weights.</param>
    /// <param name="seed">training.seed.</param>
    /// <param name="rank">This worker's rank (its backward draws differ from the others').</param>
    public LowPrecisionTraining(QuantizeSpec? quantize, GradientSparsitySpec? gradientSparsity, WeightSparsitySpec? masks, long seed, int rank)
    {
        Quantize = quantize is { Any: true } ? quantize : null;
        GradientSparsity = gradientSparsity;
        Masks = masks;
        this.seed = seed;
        this.rank = rank;
        Transform = new GradientTransform(gradientSparsity, Quantize?.Gradients, Quantize?.Stochastic ?? true, Quantize?.Bifurcation ?? true);
        edgeTransform = gradientSparsity is { DenseFirstLast: true } ? Transform with { Sparsity = null } : Transform;
    }

    /// <summary>The low-precision training <paramref name="spec"/> asks for, or null when it asks for none (plain fp32 layers).</summary>
    public static LowPrecisionTraining? For(JobSpec spec, int rank)
    {
        var training = spec.Training;
        bool any = training.Quantize is { Any: true } || training.GradientSparsity is not null || spec.Model.WeightSparsity is not null;
        return any ? new LowPrecisionTraining(training.Quantize, training.GradientSparsity, spec.Model.WeightSparsity, training.Seed, rank) : null;
    }

    /// <summary>Quantized bit widths; null when nothing is quantized.</summary>
    public QuantizeSpec? Quantize { get; }

    /// <summary>Neural-gradient pruning; null when off.</summary>
    public GradientSparsitySpec? GradientSparsity { get; }

    /// <summary>Weight masks; null when off.</summary>
    public WeightSparsitySpec? Masks { get; }

    /// <summary>What backward does to each layer's output gradient (but see <see cref="TransformOf"/>).</summary>
    public GradientTransform Transform { get; }

    /// <summary>
    /// What backward does to the output gradient of layer <paramref name="index"/>: <see cref="Transform"/>, without the
    /// pruning for the first and last layers when <c>dense_first_last</c> asks for it. Asked in forward, once the model
    /// is built, so the last layer is known.
    /// </summary>
    public GradientTransform TransformOf(int index) => index == 0 || index == layers.Count - 1 ? edgeTransform : Transform;

    /// <summary>Counts of the pruned gradients.</summary>
    public GradientStatistics Gradients { get; } = new();

    /// <summary>The factory that builds a model's conv and linear layers on this path.</summary>
    public ILayerFactory LayerFactory => new LowPrecisionLayerFactory(this);

    /// <summary>The layers built so far, in construction order.</summary>
    public IReadOnlyList<LowPrecisionLayer> Layers => layers;

    /// <summary>The current step (set by <see cref="BeginStep"/>).</summary>
    public long Step => step;

    internal int Register(LowPrecisionLayer layer)
    {
        layers.Add(layer);
        return layers.Count - 1;
    }

    /// <summary>
    /// The part of the checkpoint fingerprint that changes what the model's state holds: layers on this path (their
    /// parameters sit one level deeper, under <c>dense</c>), mask buffers and running activation ranges.
    /// </summary>
    public string FingerprintTag =>
        "/low-precision" + (Masks is { } m ? $"/{MaskTag}{m.Label}" : "") + (Quantize?.Activations is not null ? "/activation-range" : "");

    /// <summary>The prefix of the mask part of <see cref="FingerprintTag"/>.</summary>
    public const string MaskTag = "masks ";

    /// <summary>
    /// Checks that the model has what the spec asks to act on: some conv or linear layer for quantization and gradient
    /// sparsity, some layer the N:M pattern tiles for weight masks. Throws a <see cref="UserFacingException"/> naming the field.
    /// </summary>
    public void CheckModel(ModelSpec model)
    {
        string kind = model.Kind.SpecName();
        if (layers.Count == 0)
        {
            string field = GradientSparsity is not null ? "training.gradient_sparsity" : Quantize is not null ? "training.quantize" : "model.weight_sparsity";
            throw new UserFacingException($"{field}: model {kind} has no conv or linear layer to act on");
        }
        if (GradientSparsity is { DenseFirstLast: true } && layers.Count <= 2)
            throw new UserFacingException(
                $"training.gradient_sparsity.dense_first_last: model {kind} has {layers.Count} conv or linear layer(s), all first or last: no gradient would be pruned");
        if (Masks is { } masks && !layers.Any(l => l.Mask is not null))
            throw new UserFacingException(
                $"model.weight_sparsity: no conv or linear weight of model {kind} (width {model.Width}) has a shape the {masks.Label} pattern tiles " +
                $"(columns in x kh x kw a multiple of m = {masks.M}{(masks.Transposable ? ", and output channels too" : "")}); use a smaller m or a wider model");
    }

    /// <summary>
    /// Starts the step <paramref name="at"/>: its draws restart, and the masks are recomputed from the dense weights when
    /// <paramref name="at"/> is a multiple of <c>recompute_every</c> (so a resumed run recomputes at the same steps; between
    /// them the masks come from the checkpoint).
    /// </summary>
    public void BeginStep(long at)
    {
        step = at;
        draws = 0;
        if (Masks is { } masks && at % masks.RecomputeEvery == 0) RecomputeMasks();
    }

    /// <summary>Recomputes every layer's mask now and counts the time.</summary>
    public void RecomputeMasks()
    {
        var started = Stopwatch.GetTimestamp();
        foreach (var layer in layers) layer.RecomputeMask();
        double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        maskSeconds += seconds;
        totalMaskSeconds += seconds;
        maskRecomputations++;
    }

    /// <summary>The seed of one backward of layer <paramref name="layer"/> (called in forward, in a fixed order).</summary>
    internal ulong NextSeed(int layer) => (ulong)StepSeed.For(StepSeed.For(seed, step, rank), layer, (int)draws++);

    /// <summary>Kept weights over all weights of the masked layers, and over all conv and linear weights (1 without masks).</summary>
    public (double Masked, double Overall) MaskDensity()
    {
        long kept = 0, masked = 0, all = 0;
        foreach (var layer in layers)
        {
            long n = layer.Weight.numel();
            all += n;
            if (layer.Mask is not { } mask) { kept += n; continue; }
            masked += n;
            kept += mask.count_nonzero().item<long>();
        }
        long maskedKept = kept - (all - masked);
        return (masked == 0 ? 1 : (double)maskedKept / masked, all == 0 ? 1 : (double)kept / all);
    }

    /// <summary>What the step that just ended measured (and resets the per-step counters).</summary>
    public LowPrecisionRecord TakeStepRecord()
    {
        double seconds = maskSeconds;
        maskSeconds = 0;
        double sparsity = Gradients.TakeSparsity();
        if (!double.IsNaN(sparsity))
        {
            sparsitySum += sparsity;
            sparsitySteps++;
        }
        return new LowPrecisionRecord(Bits(Quantize?.Weights), Bits(Quantize?.Activations), Bits(Quantize?.Gradients),
            GradientSparsity is null ? null : sparsity, Masks is null ? null : MaskDensity().Masked, Masks is null ? null : seconds);
    }

    /// <summary>The whole run's figures for <c>summary.json</c> (gradient sparsity: the mean over this run's steps).</summary>
    public LowPrecisionSummary Summary()
    {
        double? meanGradientSparsity = sparsitySteps == 0 ? null : sparsitySum / sparsitySteps;
        var (masked, overall) = MaskDensity();
        return new LowPrecisionSummary(Quantize?.Label ?? "fp32", Bits(Quantize?.Weights), Bits(Quantize?.Activations), Bits(Quantize?.Gradients),
            GradientSparsity?.Label, meanGradientSparsity, Masks?.Label,
            Masks is null ? null : masked, Masks is null ? null : overall,
            layers.Count(l => l.Mask is not null), layers.Count, maskRecomputations, totalMaskSeconds);
    }

    /// <summary>Bits in use: the quantized width, or 32 for fp32.</summary>
    private static int Bits(int? bits) => bits ?? 32;
}
