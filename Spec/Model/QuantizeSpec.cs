namespace Orchestrator.Spec;

/// <summary>
/// <c>training.quantize</c>: 8-bit training (Banner et al., ALGORITHMS.md section 5) of every conv and linear layer.
/// Each bit width is 4..16, or null (left out) for fp32 there. Quantization is simulated: values are quantized and
/// dequantized around fp32 GEMMs, which shows the accuracy of low precision, not its speed.
/// </summary>
/// <param name="Weights">Bits of the weights, one range per output channel (deterministic rounding).</param>
/// <param name="Activations">Bits of the layer inputs, with a running range (deterministic rounding).</param>
/// <param name="Gradients">Bits of the gradient with respect to the layer output, one range per tensor.</param>
/// <param name="Stochastic">Stochastic (unbiased) rounding of the gradients; false rounds to nearest (the biased baseline).</param>
/// <param name="Bifurcation">The weight-gradient GEMM takes the gradient before quantization (fp32 here, 16-bit in the
/// paper); only the input-gradient GEMM takes the quantized one. False: both take the quantized gradient.</param>
public sealed record QuantizeSpec(int? Weights, int? Activations, int? Gradients, bool Stochastic = true, bool Bifurcation = true)
{
    /// <summary>Fewest bits a quantizer takes.</summary>
    public const int MinBits = 4;

    /// <summary>Most bits a quantizer takes.</summary>
    public const int MaxBits = 16;

    /// <summary>Nothing quantized: the defaults of a section given with every key left out.</summary>
    public static QuantizeSpec Default { get; } = new(null, null, null);

    /// <summary>Whether any of the three is quantized.</summary>
    public bool Any => Weights is not null || Activations is not null || Gradients is not null;

    /// <summary>As summaries show it, e.g. <c>w8 a8 g8 stochastic bifurcation</c>, <c>fp32</c> when nothing is quantized.</summary>
    public string Label => !Any ? "fp32" : string.Join(' ', new[]
    {
        Weights is { } w ? $"w{w}" : null,
        Activations is { } a ? $"a{a}" : null,
        Gradients is { } g ? $"g{g}" : null,
        Gradients is not null ? (Stochastic ? "stochastic" : "nearest") : null,
        Gradients is not null && Bifurcation ? "bifurcation" : null,
    }.Where(s => s is not null));
}
