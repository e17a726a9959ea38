namespace Orchestrator.Spec;

/// <summary>
/// <c>model.weight_sparsity</c>: N:M weight masks (Hubara et al., ALGORITHMS.md section 8) on conv (reshaped to
/// [out, in x kh x kw]) and linear weights, recomputed from the dense weights during training, with a straight-through
/// estimator to them.
/// </summary>
/// <param name="N">Weights kept per group (and, when transposable, per row and per column of every M x M block).</param>
/// <param name="M">Group length (block side when transposable).</param>
/// <param name="Transposable">Masks whose M x M blocks keep N in every row and every column, so W and W^T are both N:M;
/// false: plain N:M along each row (only W is).</param>
/// <param name="Method">How a transposable block is chosen: <c>greedy</c> (2-approximation) or <c>optimal</c> (min-cost
/// flow); not used by plain N:M.</param>
/// <param name="RecomputeEvery">Steps between mask recomputations (>= 1).</param>
public sealed record WeightSparsitySpec(int N, int M, bool Transposable, MaskMethod Method, int RecomputeEvery)
{
    /// <summary>Transposable 2:4 by the greedy method, recomputed every 40 steps (the paper's dynamic setting).</summary>
    public static WeightSparsitySpec Default { get; } = new(2, 4, true, MaskMethod.Greedy, 40);

    /// <summary>The N:M pattern.</summary>
    public NmPattern Nm => new(N, M);

    /// <summary>As summaries and checkpoints show it, e.g. <c>2:4 transposable greedy</c> or <c>2:4</c>.</summary>
    public string Label => Transposable ? $"{Nm} transposable {Method.SpecName()}" : $"{Nm}";
}
