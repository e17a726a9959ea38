using Orchestrator.Trainer.Sparsity;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.LowPrecision;

/// <summary>
/// A conv or linear layer on the low-precision path (ALGORITHMS.md sections 5, 7, 8), in this order:
/// <list type="number">
/// <item>weights masked N:M (<c>model.weight_sparsity</c>; the mask is a buffer recomputed by
/// <see cref="LowPrecisionTraining.BeginStep"/>), with a straight-through estimator to the dense weights;</item>
/// <item>weights quantized per output channel and inputs with a running range (<c>training.quantize</c>; deterministic
/// rounding, straight-through), the mask applied again so pruned weights stay exactly zero;</item>
/// <item>the GEMM in fp32, whose backward prunes and quantizes the output gradient (<c>training.gradient_sparsity</c>,
/// <c>training.quantize.gradients</c>; <see cref="GradientTransform"/>), with bifurcation when asked.</item>
/// </list>
/// The trained weight and bias are those of the TorchSharp layer it holds (child <c>dense</c>), so optimizers, weight
/// decay and the oneDNN self-check treat it as that layer. Quantization is simulated (quantize-dequantize in fp32).
/// </summary>
public abstract class LowPrecisionLayer : nn.Module<Tensor, Tensor>
{
    /// <summary>Momentum of the running activation range (as batch norm's running statistics).</summary>
    public const double RangeMomentum = 0.1;

    private readonly LowPrecisionTraining lowPrecision;
    // Field names are the component names: to(device) replaces registered tensors through the fields of the same name.
#pragma warning disable IDE1006 // state names, lower case like the rest of the model's
    private readonly nn.Module<Tensor, Tensor> dense;
    private Tensor? weight_mask;
    private Tensor? running_min;
    private Tensor? running_max;
    private Tensor? range_tracked;
#pragma warning restore IDE1006

    /// <param name="name">Module name.</param>
    /// <param name="dense">The TorchSharp layer whose parameters train (its <c>weight</c>, [out, ...], and <c>bias</c>, if any).</param>
    /// <param name="lowPrecision">The model's low-precision settings and state.</param>
    protected LowPrecisionLayer(string name, nn.Module<Tensor, Tensor> dense, LowPrecisionTraining lowPrecision) : base(name)
    {
        this.dense = dense;
        this.lowPrecision = lowPrecision;
        register_module(nameof(dense), dense);
        if (lowPrecision.Masks is { } masks && WeightMask.Fits(Weight.shape, masks))
        {
            weight_mask = WeightMask.Compute(Weight, masks);
            register_buffer(nameof(weight_mask), weight_mask);
        }
        if (lowPrecision.Quantize?.Activations is not null)
        {
            // Named running_* so that buffer synchronization averages them across workers, as batch norm's statistics.
            running_min = zeros(1);
            running_max = zeros(1);
            range_tracked = tensor(0L);
            register_buffer(nameof(running_min), running_min);
            register_buffer(nameof(running_max), running_max);
            register_buffer(nameof(range_tracked), range_tracked);
        }
        Index = lowPrecision.Register(this);
    }

    /// <summary>This layer's number in the model (construction order), part of its backward's random seed.</summary>
    public int Index { get; }

    /// <summary>The trained (dense) weight.</summary>
    /// <remarks>Read from the dense layer each time: <c>to(device)</c> replaces its parameters with new objects (and
    /// disposes the old ones), so a reference kept from construction would be stale on a GPU.</remarks>
    public Parameter Weight => dense.get_parameter("weight") ?? throw new InvalidOperationException($"{dense.GetName()} has no weight");

    /// <summary>The trained bias, if any (read as <see cref="Weight"/> is).</summary>
    public Parameter? Bias => dense.get_parameter("bias");

    /// <summary>The weight mask (1 = kept, the weight's shape), or null when the layer is dense (no masks asked for, or
    /// a shape the N:M pattern does not tile).</summary>
    public Tensor? Mask => weight_mask;

    /// <summary>The running activation range (min, max) the layer quantizes its input with in evaluation; null without activation quantization.</summary>
    public (Tensor Min, Tensor Max)? RunningRange => running_min is null ? null : (running_min, running_max!);

    /// <summary>The layer's GEMM (conv or linear) of <paramref name="input"/>, <paramref name="weight"/> and <paramref name="bias"/>.</summary>
    protected abstract Tensor Gemm(Tensor input, Tensor weight, Tensor? bias);

    /// <summary>Recomputes the mask from the current dense weights (no-op for a dense layer).</summary>
    public void RecomputeMask()
    {
        if (weight_mask is null) return;
        using var fresh = WeightMask.Compute(Weight, lowPrecision.Masks!);
        using var _ = no_grad();
        weight_mask.copy_(fresh);
    }

    /// <summary>The weight as the forward uses it: masked, quantized (both straight-through to the dense weight).</summary>
    public Tensor EffectiveWeight()
    {
        using var scope = NewDisposeScope();
        Tensor w = Weight;
        if (weight_mask is not null) w = StraightThrough.Estimate(w.detach().mul(weight_mask), w);
        if (lowPrecision.Quantize?.Weights is { } bits && TryQuantize(() => RangeQuantizer.QuantizePerChannel(w.detach(), bits)) is { } q)
            w = StraightThrough.Estimate(weight_mask is null ? q : q.mul(weight_mask), w);
        return w.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var w = EffectiveWeight();
        var x = lowPrecision.Quantize?.Activations is { } bits ? QuantizeInput(input, bits) : input;
        var transform = lowPrecision.TransformOf(Index);
        Tensor y;
        if (transform.Active && training && is_grad_enabled())
        {
            var state = new BackwardState(Gemm, transform, lowPrecision.NextSeed(Index), lowPrecision.Gradients);
            y = transform.Bifurcates
                ? BifurcatedGemmFunction.Apply(x, w, Bias, state)
                : OutputGradientFunction.Apply(Gemm(x, w, Bias), state);
        }
        else
        {
            y = Gemm(x, w, Bias);
        }
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The input quantized with the batch's range in training (each sample's min and max, averaged over the batch, which
    /// also moves the running range) and with the running range in evaluation (Banner et al.); straight-through.
    /// </summary>
    private Tensor QuantizeInput(Tensor input, int bits)
    {
        using var scope = NewDisposeScope();
        Tensor min, max;
        using (var _ = no_grad())
        {
            bool tracked = range_tracked!.item<long>() > 0;
            if (training || !tracked)
            {
                (min, max) = RangeQuantizer.BatchRange(input.detach());
                if (training)
                {
                    if (tracked)
                    {
                        running_min!.mul_(1 - RangeMomentum).add_(min, alpha: RangeMomentum);
                        running_max!.mul_(1 - RangeMomentum).add_(max, alpha: RangeMomentum);
                    }
                    else
                    {
                        running_min!.copy_(min.reshape(1));
                        running_max!.copy_(max.reshape(1));
                    }
                    range_tracked.add_(1);
                }
            }
            else
            {
                (min, max) = (running_min!, running_max!);
            }
        }
        var q = TryQuantize(() => RangeQuantizer.Quantize(input.detach(), min, max, bits, null));
        return (q is null ? input : StraightThrough.Estimate(q, input)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The quantized tensor, or null when the values are not finite: they then pass unquantized, so a diverging run shows
    /// as a non-finite loss and gradient and meets the trainer's one rule for that (skip, announce, stop) instead of failing here.
    /// </summary>
    private static Tensor? TryQuantize(Func<Tensor> quantize)
    {
        try
        {
            return quantize();
        }
        catch (ArgumentException)
        {
            return null;
        }
    }
}
