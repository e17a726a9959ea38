using Orchestrator.Trainer.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.LowPrecision;

/// <summary>
/// A conv or linear GEMM whose backward feeds its two GEMMs different gradients (gradient bifurcation, Banner et al.,
/// ALGORITHMS.md section 5): the input gradient from the low-precision output gradient, the weight and bias gradients from
/// the higher-precision one (<see cref="GradientTransform"/>). Backward recomputes the GEMM's graph from the saved input
/// and weight (one extra forward GEMM) and differentiates it twice, once per gradient; libtorch computes only the
/// gradient each call asks for.
/// </summary>
internal sealed class BifurcatedGemmFunction : autograd.SingleTensorFunction<BifurcatedGemmFunction>
{
    private const string StateKey = "state";
    private const string InputNeedsGradKey = "input_needs_grad";
    private const string HasBiasKey = "has_bias";

    [ThreadStatic] private static List<Tensor>? returned;

    public override string Name => nameof(BifurcatedGemmFunction);

    /// <summary>gemm(<paramref name="input"/>, <paramref name="weight"/>, <paramref name="bias"/>) with the bifurcated backward of <paramref name="state"/>.</summary>
    public static Tensor Apply(Tensor input, Tensor weight, Tensor? bias, BackwardState state)
    {
        ReturnedGradients.Release(ref returned);
        return CustomFunctionApply.Scoped(() => apply(input, weight, bias!, state));
    }

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (input, weight, bias, state) = ((Tensor)vars[0], (Tensor)vars[1], vars[2] as Tensor, (BackwardState)vars[3]);
        ctx.save_for_backward([input, weight]);
        ctx.save_data(StateKey, state);
        ctx.save_data(InputNeedsGradKey, input.requires_grad);
        ctx.save_data(HasBiasKey, bias is not null);
        ctx.set_materialize_grads(false); // see CustomFunctionApply
        using var _ = no_grad();
        return state.Gemm(input, weight, bias);
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        ReturnedGradients.Release(ref returned);
        if (grad_output.IsInvalid) return [null!, null!, null!, null!]; // an output that reached no loss: no gradients
        var state = (BackwardState)ctx.get_data(StateKey);
        bool inputNeedsGrad = (bool)ctx.get_data(InputNeedsGradKey);
        bool hasBias = (bool)ctx.get_data(HasBiasKey);
        var saved = ctx.get_saved_variables();
        var (forInput, forWeight) = state.Apply(grad_output);
        Tensor? inputGrad = null, weightGrad, biasGrad = null;
        using (var enabled = enable_grad())
        using (var x = saved[0].detach().requires_grad_(inputNeedsGrad))
        using (var w = saved[1].detach().requires_grad_(true))
        using (var y = state.Gemm(x, w, null))
        {
            if (inputNeedsGrad)
                inputGrad = autograd.grad([y], [x], [forInput], retain_graph: true)[0];
            weightGrad = autograd.grad([y], [w], [forWeight])[0];
        }
        if (hasBias)
        {
            // The bias gradient sums the output gradient over every dim but the channel one (dim 1), at the weights' precision.
            var dims = Enumerable.Range(0, (int)forWeight.dim()).Where(d => d != 1).Select(d => (long)d).ToArray();
            biasGrad = forWeight.sum(dims);
        }
        if (!ReferenceEquals(forWeight, forInput)) forWeight.Dispose();
        forInput.Dispose();
        grad_output.Dispose();
        foreach (var t in saved) t.Dispose();
        var grads = new List<Tensor>([inputGrad!, weightGrad, biasGrad!, null!]);
        (returned ??= []).AddRange(grads.Where(g => g is not null));
        return grads;
    }
}
