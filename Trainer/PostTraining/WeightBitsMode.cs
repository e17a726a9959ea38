namespace Orchestrator.Trainer.PostTraining;

/// <summary>The weight bit widths post-training quantization gives the layers (<c>--bits</c>).</summary>
public enum WeightBitsMode
{
    /// <summary>Every layer 8 bits (W8A8 with 8-bit activations).</summary>
    Eight,

    /// <summary>Every layer 4 bits (W4A8).</summary>
    Four,

    /// <summary>4 or 8 bits per layer, chosen by integer programming under a total weight-bit budget.</summary>
    Mixed,
}

/// <summary>Names of <see cref="WeightBitsMode"/> on the command line and in reports.</summary>
public static class WeightBitsModes
{
    /// <summary>The <c>--bits</c> values.</summary>
    public static IReadOnlyList<string> Names { get; } = ["8", "4", "mixed"];

    /// <summary>The width choices a layer has in this mode.</summary>
    public static IReadOnlyList<int> Widths(this WeightBitsMode mode) => mode switch
    {
        WeightBitsMode.Eight => [8],
        WeightBitsMode.Four => [4],
        WeightBitsMode.Mixed => [4, 8],
    };

    /// <summary>The <c>--bits</c> name.</summary>
    public static string Name(this WeightBitsMode mode) => mode switch
    {
        WeightBitsMode.Eight => "8",
        WeightBitsMode.Four => "4",
        WeightBitsMode.Mixed => "mixed",
    };

    /// <summary>Parses a <c>--bits</c> value; null when it is none of <see cref="Names"/>.</summary>
    public static WeightBitsMode? Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "8" => WeightBitsMode.Eight,
        "4" => WeightBitsMode.Four,
        "mixed" => WeightBitsMode.Mixed,
        _ => null,
    };
}
