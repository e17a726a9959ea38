using Orchestrator.Spec;
using Orchestrator.Trainer.Compression.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.LowPrecision;

/// <summary>
/// What backward does to the gradient with respect to a conv or linear layer's output: N:M pruning (ALGORITHMS.md section
/// 7, <see cref="NeuralGradientPruning"/>), then quantization to <see cref="Bits"/> bits with one range per tensor
/// (section 5, <see cref="RangeQuantizer"/>), stochastic or to nearest. After pruning only the kept values are
/// quantized: the zeros stay exact, as a sparse format stores only what it keeps.
/// </summary>
/// <param name="Sparsity">N:M pruning; null = none.</param>
/// <param name="Bits">Bits of the quantized gradient; null = fp32.</param>
/// <param name="Stochastic">Stochastic rounding (unbiased) rather than to nearest.</param>
/// <param name="Bifurcation">The weight-gradient GEMM takes the gradient before quantization.</param>
public sealed record GradientTransform(GradientSparsitySpec? Sparsity, int? Bits, bool Stochastic, bool Bifurcation)
{
    /// <summary>Whether the two GEMMs of backward take different gradients (quantized with bifurcation, or pruned for the
    /// weight-gradient GEMM only).</summary>
    public bool Bifurcates => (Bits is not null && Bifurcation) || Sparsity is { PrunesInputGradient: false };

    /// <summary>Whether the transform changes anything.</summary>
    public bool Active => Sparsity is not null || Bits is not null;

    /// <summary>
    /// The gradient for the input-gradient GEMM and the one for the weight-gradient GEMM (the same tensor unless
    /// <see cref="Bifurcates"/>), and the non-zeros of the pruned gradient (-1 when nothing is pruned).
    /// Randomness is a pure function of <paramref name="seed"/>.
    /// </summary>
    public (Tensor ForInput, Tensor ForWeight, long NonZeros) Apply(Tensor gradient, ulong seed)
    {
        using var scope = NewDisposeScope();
        var pruned = Sparsity is { } s ? NeuralGradientPruning.Prune(gradient, s.N, s.M, s.Pruner, seed) : gradient;
        long nonZeros = Sparsity is null ? -1 : pruned.count_nonzero().item<long>();
        // Pruning for the weight-gradient GEMM only: the input-gradient GEMM takes the dense gradient.
        bool weightOnly = Sparsity is { PrunesInputGradient: false };
        var forInput = weightOnly ? gradient : pruned;
        var forWeight = pruned;
        if (Bits is { } bits && QuantizedKept(forInput, sparse: Sparsity is not null && !weightOnly, bits, NoiseSeed(seed)) is { } quantized)
        {
            forWeight = Bifurcation ? pruned
                : weightOnly ? QuantizedKept(pruned, sparse: true, bits, NoiseSeed(~seed)) ?? pruned
                : quantized;
            forInput = quantized;
        }
        forInput = forInput.MoveToOuterDisposeScope();
        return (forInput, ReferenceEquals(forWeight, forInput) ? forInput : forWeight.MoveToOuterDisposeScope(), nonZeros);
    }

    /// <summary>
    /// <paramref name="values"/> quantized to <paramref name="bits"/> bits; when <paramref name="sparse"/>, its zeros stay
    /// exact (only the kept values are quantized, as a sparse format stores only what it keeps). Null when not finite.
    /// </summary>
    private Tensor? QuantizedKept(Tensor values, bool sparse, int bits, ulong noiseSeed)
    {
        if (Quantized(values, bits, noiseSeed) is not { } quantized) return null;
        return sparse ? where(values.eq(0), zeros_like(quantized), quantized) : quantized;
    }

    /// <summary>
    /// The quantized gradient, or null when it is not finite (a diverging step): it then passes unquantized, as the forward's
    /// values do. This runs in a backward that libtorch calls back into, where an exception would end the process instead of
    /// reaching the trainer's rule for non-finite steps (skip, announce, stop).
    /// </summary>
    private Tensor? Quantized(Tensor values, int bits, ulong noiseSeed) =>
        RangeQuantizer.TryQuantizePerTensor(values, bits, Stochastic ? new CounterUniform(noiseSeed) : null);

    /// <summary>A seed for the rounding noise apart from the pruning's.</summary>
    private static ulong NoiseSeed(ulong seed) => (seed ^ 0x5851F42D4C957F2DUL) >> 1;
}
