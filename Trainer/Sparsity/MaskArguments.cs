using Orchestrator.Spec;
namespace Orchestrator.Trainer.Sparsity;

/// <summary>Argument checks shared by the mask algorithms, so every entry point refuses the same inputs with the same words.</summary>
internal static class MaskArguments
{
    /// <summary>The N:M range rule of <see cref="NmPattern"/> (1 &lt;= N &lt; M &lt;= 16); throws <see cref="ArgumentOutOfRangeException"/>.</summary>
    public static void CheckPattern(int n, int m) => NmPattern.Check(n, m);

    /// <summary>A positive shape whose element count is the span's length.</summary>
    public static void CheckShape(int length, int rows, int cols, string what)
    {
        if (rows < 1 || cols < 1)
            throw new ArgumentException($"{what} shape [{rows}, {cols}] must have at least one row and one column.");
        if ((long)rows * cols != length)
            throw new ArgumentException($"{what} has {length} values; shape [{rows}, {cols}] needs {(long)rows * cols}.");
    }

    /// <summary>
    /// Masks rank by magnitude; a NaN or an infinity has none, and a weight that is one means training has already diverged,
    /// so it is refused rather than ranked arbitrarily.
    /// </summary>
    public static void CheckFinite(ReadOnlySpan<float> weights)
    {
        for (int i = 0; i < weights.Length; i++)
            if (!float.IsFinite(weights[i]))
                throw new ArgumentException($"weights[{i}] is {weights[i]}: an N:M mask ranks magnitudes and needs finite weights.");
    }
}
