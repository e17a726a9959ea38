using System.Globalization;
using Orchestrator.Spec;
using Orchestrator.Trainer.PostTraining.AdaQuant;

namespace Orchestrator.Trainer.PostTraining;

/// <summary>
/// Checks the <c>orchestrator quantize</c> options and the run before any work: every mistake is a
/// <see cref="UserFacingException"/> naming the option or spec field, so nothing starts (and nothing is written) for a
/// request that cannot finish.
/// </summary>
public static class QuantizeRequest
{
    /// <summary>Default <c>--budget</c>: the paper's headline, about 13% of the fp32 weight bits.</summary>
    public const double DefaultBudget = 0.13;

    /// <summary>The options, checked. <paramref name="budget"/> null: the default for mixed, and none otherwise.</summary>
    public static QuantizeOptions Options(string bits, double? budget, int samples, int iterations, long seed)
    {
        var mode = WeightBitsModes.Parse(bits)
            ?? throw new UserFacingException($"--bits: expected one of {string.Join(", ", WeightBitsModes.Names)}, got '{bits}'");
        if (budget is { } b)
        {
            if (mode != WeightBitsMode.Mixed)
                throw new UserFacingException($"--budget: only with --bits mixed (--bits {mode.Name()} gives every layer {mode.Widths()[0]} bits)");
            if (!(b > 0 && b <= 1))
                throw new UserFacingException($"--budget: expected a fraction of the fp32 weight size in (0, 1], got {b.ToString(CultureInfo.InvariantCulture)}");
            double smallest = WeightBitsMode.Mixed.Widths().Min() / 32.0;
            if (b < smallest)
                throw new UserFacingException($"--budget: {b.ToString(CultureInfo.InvariantCulture)} is below the smallest plan, every layer at " +
                    $"{WeightBitsMode.Mixed.Widths().Min()} bits ({smallest.ToString(CultureInfo.InvariantCulture)} of the fp32 weight size)");
        }
        if (samples < 1) throw new UserFacingException($"--samples: expected at least 1 calibration sample, got {samples}");
        if (iterations < 0) throw new UserFacingException($"--iterations: expected at least 0 AdaQuant iterations per layer, got {iterations}");
        return new QuantizeOptions(mode, mode == WeightBitsMode.Mixed ? budget ?? DefaultBudget : 1, samples, seed,
            new AdaQuantSettings(Iterations: iterations, Seed: seed));
    }

    /// <summary>
    /// Refuses runs whose model the quantizer does not handle: layers built for low-precision or sparse training (their
    /// conv/linear weights sit inside wrapper layers that compute without the TorchSharp modules' forward).
    /// </summary>
    public static void CheckModel(JobSpec spec)
    {
        string? field = spec.Training.Quantize is not null ? "training.quantize"
            : spec.Training.GradientSparsity is not null ? "training.gradient_sparsity"
            : spec.Model.WeightSparsity is not null ? "model.weight_sparsity" : null;
        if (field is not null)
            throw new UserFacingException($"{field}: the quantizer supports models of plain fp32 conv and linear layers; this run was trained with {field} " +
                "(low-precision/sparse layers), which it does not support");
    }

    /// <summary>The default output directory name, e.g. <c>w8a8-real</c>, <c>mixed13-synthetic</c>.</summary>
    public static string Label(QuantizeOptions options, string calibration) => options.Bits switch
    {
        WeightBitsMode.Mixed => $"mixed{(options.Budget * 100).ToString("0.##", CultureInfo.InvariantCulture)}-{calibration}",
        _ => $"w{options.Bits.Widths()[0]}a{options.ActivationBits}-{calibration}",
    };
}
