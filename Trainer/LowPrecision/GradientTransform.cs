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
    /// <summary>Whether the two GEMMs of backward take different gradients (quantized with bifurcation).</summary>
    public bool Bifurcates => Bits is not null && Bifurcation;

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
        if (Bits is not { } bits || Quantized(pruned, bits, seed) is not { } quantized)
        {
            var same = pruned.MoveToOuterDisposeScope();
            return (same, same, nonZeros);
        }
        if (Sparsity is not null) quantized = where(pruned.eq(0), zeros_like(quantized), quantized);
        var forWeight = Bifurcation ? pruned : quantized;
        return (quantized.MoveToOuterDisposeScope(), forWeight.MoveToOuterDisposeScope(), nonZeros);
    }

    /// <summary>
    /// The quantized gradient, or null when it is not finite (a diverging step): it then passes unquantized, as the forward's
    /// values do. This runs in a backward that libtorch calls back into, where an exception would end the process instead of
    /// reaching the trainer's rule for non-finite steps (skip, announce, stop).
    /// </summary>
    private Tensor? Quantized(Tensor pruned, int bits, ulong seed) =>
        RangeQuantizer.TryQuantizePerTensor(pruned, bits, Stochastic ? new CounterUniform(NoiseSeed(seed)) : null);

    /// <summary>A seed for the rounding noise apart from the pruning's.</summary>
    private static ulong NoiseSeed(ulong seed) => (seed ^ 0x5851F42D4C957F2DUL) >> 1;
}
