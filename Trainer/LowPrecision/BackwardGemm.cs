namespace Orchestrator.Trainer.LowPrecision;

/// <summary>
/// The two GEMMs of a conv or linear layer's backward that consume its output gradient g. N:M blocks of a pruned neural
/// gradient run along the reduction dimension of the GEMM that takes it (ALGORITHMS.md section 7), so each GEMM names a
/// block layout.
/// </summary>
public enum BackwardGemm
{
    /// <summary>dW = g^T x (the update phase): reduces over samples and positions, so a block is M consecutive values of
    /// one output channel along (sample, position).</summary>
    WeightGradient,

    /// <summary>dX = g W (a transposed convolution for conv layers): reduces over output channels, so a block is M
    /// consecutive output channels of one sample at one position.</summary>
    InputGradient,
}
