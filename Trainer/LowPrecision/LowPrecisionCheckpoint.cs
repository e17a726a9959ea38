namespace Orchestrator.Trainer.LowPrecision;

/// <summary>
/// Whether a checkpoint's weight masks agree with the spec that resumes it. A checkpoint trained with masks resumed without
/// them would silently train the pruned weights dense again (and the reverse would start from weights no mask ever
/// shaped), so both are refused with the setting named, before the general model check.
/// </summary>
public static class LowPrecisionCheckpoint
{
    /// <summary>The refusal for a checkpoint written with model fingerprint <paramref name="saved"/> resumed by a spec whose
    /// model has fingerprint <paramref name="wanted"/>; null when their masks agree (other differences are not judged here).</summary>
    public static string? MaskRefusal(string saved, string wanted)
    {
        string? had = Masks(saved), has = Masks(wanted);
        if (had == has) return null;
        if (had is not null && has is null)
            return $"trained with N:M weight masks (model.weight_sparsity {had}), but the spec has no model.weight_sparsity; " +
                   "resuming would drop the masks. Set the same model.weight_sparsity, or use another --out or --fresh";
        if (had is null)
            return $"trained without weight masks, but the spec sets model.weight_sparsity {has}; " +
                   "remove it to resume this run, or use another --out or --fresh to train masked from the start";
        return $"trained with model.weight_sparsity {had}, but the spec sets {has}; set {had} to resume, or use another --out or --fresh";
    }

    /// <summary>The masks' label in a fingerprint, or null when it has none.</summary>
    private static string? Masks(string fingerprint)
    {
        int at = fingerprint.IndexOf("/" + LowPrecisionTraining.MaskTag, StringComparison.Ordinal);
        if (at < 0) return null;
        int start = at + 1 + LowPrecisionTraining.MaskTag.Length;
        int end = fingerprint.IndexOf('/', start);
        return end < 0 ? fingerprint[start..] : fingerprint[start..end];
    }
}
