using Orchestrator.Trainer.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.LowPrecision;

/// <summary>
/// The identity in forward whose backward prunes and quantizes the gradient (<see cref="GradientTransform"/>) before the
/// layer's own backward sees it: both GEMMs of the conv or linear then take the same transformed gradient. Used when
/// nothing bifurcates (else <see cref="BifurcatedGemmFunction"/>).
/// </summary>
internal sealed class OutputGradientFunction : autograd.SingleTensorFunction<OutputGradientFunction>
{
    private const string StateKey = "state";

    [ThreadStatic] private static List<Tensor>? returned;

    public override string Name => nameof(OutputGradientFunction);

    /// <summary>The layer output <paramref name="output"/>, with <paramref name="state"/>'s transform on its gradient.</summary>
    public static Tensor Apply(Tensor output, BackwardState state)
    {
        ReturnedGradients.Release(ref returned);
        return CustomFunctionApply.Scoped(() => apply(output, state));
    }

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        ctx.save_data(StateKey, vars[1]);
        ctx.set_materialize_grads(false); // see CustomFunctionApply
        // A view, not a copy: the value is the layer's output itself.
        var output = (Tensor)vars[0];
        return output.view(output.shape);
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        ReturnedGradients.Release(ref returned);
        if (grad_output.IsInvalid) return [null!, null!]; // an output that reached no loss: no gradient
        var state = (BackwardState)ctx.get_data(StateKey);
        var (forInput, forWeight) = state.Apply(grad_output);
        if (!ReferenceEquals(forWeight, forInput)) forWeight.Dispose();
        grad_output.Dispose();
        var grads = new List<Tensor>([forInput, null!]);
        (returned ??= []).Add(forInput);
        return grads;
    }
}
