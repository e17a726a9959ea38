namespace Orchestrator.Spec;

/// <summary>
/// The rules of <c>training.quantize</c>, <c>training.gradient_sparsity</c> and <c>model.weight_sparsity</c>
/// (ALGORITHMS.md sections 5, 7, 8), each error naming its field. Called by <see cref="JobSpecValidator"/>.
/// </summary>
internal static class LowPrecisionRules
{
    /// <param name="written">Whether a path was given in the file or by --set (to blame the N or M the user wrote).</param>
    public static void Check(JobSpec spec, Func<string, bool> written, Action<bool, string, string> check)
    {
        if (spec.Training.Quantize is { } quantize)
        {
            const string at = "training.quantize";
            Bits(quantize.Weights, $"{at}.weights", check);
            Bits(quantize.Activations, $"{at}.activations", check);
            Bits(quantize.Gradients, $"{at}.gradients", check);
        }
        if (spec.Training.GradientSparsity is { } gradients)
        {
            const string at = "training.gradient_sparsity";
            Nm(gradients.N, gradients.M, at, written, check);
            JobSpecValidator.Defined(check, gradients.Pruner, SpecNames.SpecName, $"{at}.pruner");
            JobSpecValidator.Defined(check, gradients.Gemms, SpecNames.SpecName, $"{at}.gemms");
        }
        if (spec.Model.WeightSparsity is { } masks)
        {
            const string at = "model.weight_sparsity";
            Nm(masks.N, masks.M, at, written, check);
            JobSpecValidator.Defined(check, masks.Method, SpecNames.SpecName, $"{at}.method");
            check(masks.RecomputeEvery >= 1, $"{at}.recompute_every", "must be >= 1 (steps between mask recomputations)");
        }
    }

    private static void Bits(int? bits, string path, Action<bool, string, string> check)
    {
        if (bits is { } b)
            check(b is >= QuantizeSpec.MinBits and <= QuantizeSpec.MaxBits, path,
                $"must be >= {QuantizeSpec.MinBits} and <= {QuantizeSpec.MaxBits} bits, got {b} (leave it out for fp32)");
    }

    /// <summary>The N:M range rule of <see cref="NmPattern"/>, per field: N &gt;= M blames the one the user wrote (n when both or neither).</summary>
    private static void Nm(int n, int m, string at, Func<string, bool> written, Action<bool, string, string> check)
    {
        check(NmPattern.ValidN(n), $"{at}.n", "must be >= 1");
        check(NmPattern.ValidM(m), $"{at}.m", $"must be >= 2 and <= {NmPattern.MaxM}");
        if (NmPattern.ValidN(n) && NmPattern.ValidM(m) && !new NmPattern(n, m).IsValid)
        {
            if (written($"{at}.m") && !written($"{at}.n"))
                check(false, $"{at}.m", $"must be > {at}.n ({n}): N:M keeps n of every m values");
            else
                check(false, $"{at}.n", $"must be < {at}.m ({m}): N:M keeps n of every m values");
        }
    }
}
