using static TorchSharp.torch;

namespace Orchestrator.Trainer.LowPrecision;

/// <summary>What one forward call of a low-precision layer leaves for its backward: the transform, its seed, where to count.</summary>
/// <param name="Gemm">The layer's GEMM (conv or linear) of input, weight and bias, for the recomputation backward needs.</param>
/// <param name="Transform">What backward does to the output gradient.</param>
/// <param name="Seed">The randomness of this call's backward (drawn in forward, whose order is fixed).</param>
/// <param name="Statistics">Where the pruned gradient's non-zeros are counted.</param>
internal sealed record BackwardState(Func<Tensor, Tensor, Tensor?, Tensor> Gemm, GradientTransform Transform, ulong Seed, GradientStatistics Statistics)
{
    /// <summary>The transformed gradients, counted.</summary>
    public (Tensor ForInput, Tensor ForWeight) Apply(Tensor gradient)
    {
        var (forInput, forWeight, pruned, nonZeros) = Transform.Apply(gradient, Seed);
        if (pruned > 0) Statistics.Add(pruned, nonZeros);
        return (forInput, forWeight);
    }
}
