using static TorchSharp.torch;

namespace Orchestrator.Trainer.LowPrecision;

/// <summary>The straight-through estimator: forward takes a transformed value, backward passes the gradient to the source unchanged.</summary>
public static class StraightThrough
{
    /// <summary>
    /// <paramref name="value"/> in forward (bit for bit: value + (source - source) adds an exact zero), with the gradient
    /// of the result flowing to <paramref name="source"/> as if the transform were the identity.
    /// </summary>
    public static Tensor Estimate(Tensor value, Tensor source)
    {
        using var scope = NewDisposeScope();
        return value.detach().add(source.sub(source.detach())).MoveToOuterDisposeScope();
    }
}
