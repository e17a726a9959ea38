using Orchestrator.Spec;
using Orchestrator.Trainer.Compression.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.LowPrecision;

/// <summary>
/// What backward does to the gradient with respect to a conv or linear layer's output: N:M pruning (ALGORITHMS.md section
/// 7, <see cref="NeuralGradientPruning"/>), then quantization to <see cref="Bits"/> bits with one range per tensor
/// (section 5, <see cref="RangeQuantizer"/>), stochastic or to nearest. Pruning blocks run along the reduction dimension
/// of the GEMM that takes the result, so when both GEMMs take a pruned gradient each gets its own independent draw (both
/// unbiased with MVUE). After pruning only the kept values are quantized: the zeros stay exact, as a sparse format
/// stores only what it keeps.
/// </summary>
/// <param name="Sparsity">N:M pruning; null = none.</param>
/// <param name="Bits">Bits of the quantized gradient; null = fp32.</param>
/// <param name="Stochastic">Stochastic rounding (unbiased) rather than to nearest.</param>
/// <param name="Bifurcation">The weight-gradient GEMM takes the gradient before quantization.</param>
public sealed record GradientTransform(GradientSparsitySpec? Sparsity, int? Bits, bool Stochastic, bool Bifurcation)
{
    /// <summary>Whether the two GEMMs of backward take different gradients (quantized with bifurcation, or pruned at all:
    /// each GEMM's blocks run along its own reduction dimension, and with <c>weight_gradient</c> the input GEMM's is dense).</summary>
    public bool Bifurcates => (Bits is not null && Bifurcation) || Sparsity is not null;

    /// <summary>Whether the transform changes anything.</summary>
    public bool Active => Sparsity is not null || Bits is not null;

    /// <summary>
    /// The gradient for the input-gradient GEMM and the one for the weight-gradient GEMM (the same tensor unless
    /// <see cref="Bifurcates"/>), and what pruning measured: the values of the pruned tensors and their non-zeros (both 0
    /// when nothing is pruned). Randomness is a pure function of <paramref name="seed"/>.
    /// </summary>
    public (Tensor ForInput, Tensor ForWeight, long Pruned, long NonZeros) Apply(Tensor gradient, ulong seed)
    {
        using var scope = NewDisposeScope();
        var forWeight = Sparsity is { } s ? Prune(gradient, s, seed, BackwardGemm.WeightGradient) : gradient;
        bool prunedInput = Sparsity is { PrunesInputGradient: true };
        var forInput = prunedInput ? Prune(gradient, Sparsity!, InputSeed(seed), BackwardGemm.InputGradient) : gradient;
        long pruned = Sparsity is null ? 0 : gradient.numel() * (prunedInput ? 2 : 1);
        long nonZeros = Sparsity is null ? 0 : NonZeros(forWeight) + (prunedInput ? NonZeros(forInput) : 0);
        if (Bits is { } bits && QuantizedKept(forInput, prunedInput, bits, NoiseSeed(seed)) is { } quantized)
        {
            if (ReferenceEquals(forWeight, forInput)) forWeight = Bifurcation ? forWeight : quantized;
            else if (!Bifurcation) forWeight = QuantizedKept(forWeight, sparse: Sparsity is not null, bits, NoiseSeed(~seed)) ?? forWeight;
            forInput = quantized;
        }
        forInput = forInput.MoveToOuterDisposeScope();
        return (forInput, ReferenceEquals(forWeight, forInput) ? forInput : forWeight.MoveToOuterDisposeScope(), pruned, nonZeros);
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

    private static Tensor Prune(Tensor gradient, GradientSparsitySpec sparsity, ulong seed, BackwardGemm blocksFor) =>
        NeuralGradientPruning.Prune(gradient, sparsity.N, sparsity.M, sparsity.Pruner, seed, blocksFor);

    private static long NonZeros(Tensor t) => t.count_nonzero().item<long>();

    /// <summary>A seed for the rounding noise apart from the pruning's.</summary>
    private static ulong NoiseSeed(ulong seed) => (seed ^ 0x5851F42D4C957F2DUL) >> 1;

    /// <summary>A seed for the input-gradient GEMM's pruning, independent of the weight-gradient GEMM's.</summary>
    private static ulong InputSeed(ulong seed) => seed * 0x9E3779B97F4A7C15UL + 0x632BE59BD9B4E019UL;
}
