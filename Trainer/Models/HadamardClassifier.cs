using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Models;

/// <summary>
/// Fixed classifier ("Fix your classifier", ALGORITHMS.md section 6): logits = alpha * x^ W^T + b, with
/// W the first <c>classes</c> rows and <c>inFeatures</c> columns of a Sylvester Hadamard matrix of size
/// 2^ceil(log2(max(in, out))), x^ the input rows L2-normalized, alpha a learned scalar and b a learned bias.
/// </summary>
/// <remarks>
/// W is a buffer, not a parameter: it is saved with the model but has no gradient, is not in the
/// optimizer and adds nothing to gradient traffic, which is the method's point.
/// </remarks>
public sealed class HadamardClassifier : nn.Module<Tensor, Tensor>
{
    // Field names are the component names, so to(device/dtype) replaces the registered tensors in place.
#pragma warning disable IDE1006 // state names, lower case like the rest of the model's
    private Tensor weight;
    private Parameter alpha;
    private Parameter bias;
#pragma warning restore IDE1006

    /// <summary>A fixed classifier from <paramref name="inFeatures"/> features to <paramref name="classes"/> logits.</summary>
    public HadamardClassifier(long inFeatures, long classes) : base(nameof(HadamardClassifier))
    {
        if (inFeatures < 1) throw new ArgumentOutOfRangeException(nameof(inFeatures), inFeatures, "need at least one input feature");
        if (classes < 1) throw new ArgumentOutOfRangeException(nameof(classes), classes, "need at least one class");
        InFeatures = inFeatures;
        Classes = classes;
        using (var h = HadamardMatrix.Sylvester(HadamardMatrix.NextPowerOfTwo(Math.Max(inFeatures, classes))))
            weight = h.narrow(0, 0, classes).narrow(1, 0, inFeatures).contiguous();
        alpha = new Parameter(tensor(1.0f / MathF.Sqrt(classes)));
        bias = new Parameter(zeros(classes));
        register_buffer(nameof(weight), weight);
        register_parameter(nameof(alpha), alpha);
        register_parameter(nameof(bias), bias);
    }

    /// <summary>Input features.</summary>
    public long InFeatures { get; }

    /// <summary>Output logits.</summary>
    public long Classes { get; }

    /// <summary>The fixed Hadamard rows [classes, inFeatures] (a buffer; never trained).</summary>
    public Tensor Weight => weight;

    /// <summary>alpha, the learned scalar (0-d) scale of the logits, initially 1/sqrt(classes).</summary>
    public Parameter Alpha => alpha;

    /// <summary>b, the learned bias [classes].</summary>
    public Parameter Bias => bias;

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        // Normalized rows make the logits depend on the direction of the features only; alpha then
        // sets the softmax temperature that the fixed W cannot learn.
        var normalized = nn.functional.normalize(input, p: 2, dim: 1);
        return (nn.functional.linear(normalized, weight) * alpha + bias).MoveToOuterDisposeScope();
    }
}
