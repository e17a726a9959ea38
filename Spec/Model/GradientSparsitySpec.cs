namespace Orchestrator.Spec;

/// <summary>
/// <c>training.gradient_sparsity</c>: N:M pruning of the neural gradients (Chmiel et al., ALGORITHMS.md section 7), the
/// gradient with respect to each conv and linear layer's output, in backward, for the GEMMs that consume it.
/// </summary>
/// <param name="N">Values kept per block.</param>
/// <param name="M">Block length, along the reduction dimension of the GEMM that takes the pruned gradient: (sample,
/// position) for the weight gradient, output channels for the input gradient.</param>
/// <param name="Pruner"><c>mvue</c> (unbiased, minimum variance) or <c>greedy</c> (top-N, the biased baseline).</param>
/// <param name="DenseFirstLast">Leave the output gradients of the model's first and last conv/linear layers (the stem and,
/// usually, the classifier) dense, the convention of the low-precision papers' experiments; every layer is pruned otherwise.</param>
/// <param name="Gemms">Which backward GEMMs take a pruned gradient: <c>both</c> (each its own draw, blocked along its own
/// reduction dimension), or <c>weight_gradient</c> only (the update phase Chmiel et al. accelerate; the input gradient then
/// propagates dense).</param>
public sealed record GradientSparsitySpec(int N, int M, PrunerKind Pruner, bool DenseFirstLast = false, GradientGemms Gemms = GradientGemms.Both)
{
    /// <summary>1:2 MVUE, the paper's main setting.</summary>
    public static GradientSparsitySpec Default { get; } = new(1, 2, PrunerKind.Mvue);

    /// <summary>The N:M pattern.</summary>
    public NmPattern Nm => new(N, M);

    /// <summary>Whether the input-gradient GEMM takes a pruned gradient too.</summary>
    public bool PrunesInputGradient => Gemms == GradientGemms.Both;

    /// <summary>As summaries show it, e.g. <c>1:2 mvue</c> or <c>1:2 mvue, weight_gradient, first and last dense</c>.</summary>
    public string Label => $"{Nm} {Pruner.SpecName()}" + (PrunesInputGradient ? "" : $", {Gemms.SpecName()}") + (DenseFirstLast ? ", first and last dense" : "");
}
