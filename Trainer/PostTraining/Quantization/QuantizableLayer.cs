using Orchestrator.Spec;
using Orchestrator.Trainer.Devices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.PostTraining.Quantization;

/// <summary>
/// A conv or linear layer of a trained model that post-training quantization quantizes: its weights per output channel,
/// its input (the activation) per tensor. It computes the layer with any weight and bias (AdaQuant's candidates) by the
/// same functional call as the module.
/// </summary>
public sealed class QuantizableLayer
{
    private readonly ConvolutionShape? convolution;

    private QuantizableLayer(string name, nn.Module<Tensor, Tensor> module, ConvolutionShape? convolution)
    {
        Name = name;
        Module = module;
        this.convolution = convolution;
    }

    /// <summary>The module's path in the model (<c>features.conv1</c>).</summary>
    public string Name { get; }

    /// <summary>The TorchSharp module.</summary>
    public nn.Module<Tensor, Tensor> Module { get; }

    /// <summary><c>conv</c> or <c>linear</c>.</summary>
    public string Kind => convolution is null ? "linear" : "conv";

    /// <summary>The weight parameter.</summary>
    public Parameter Weight => Module.get_parameter("weight") ?? throw new InvalidOperationException($"{Name} has no weight");

    /// <summary>The bias parameter, when the layer has one.</summary>
    public Parameter? Bias => Module.get_parameter("bias");

    /// <summary>Number of weights (what the weight bit width applies to).</summary>
    public long WeightCount => Weight.numel();

    /// <summary>Output channels (one weight range each).</summary>
    public long OutputChannels => Weight.shape[0];

    /// <summary>The layer's output for <paramref name="input"/> with <paramref name="weight"/> and <paramref name="bias"/> in place of its own.</summary>
    public Tensor Compute(Tensor input, Tensor weight, Tensor? bias) => convolution is { } c
        ? StridedPointwiseConvolution.Conv2d(input, weight, bias, c)
        : nn.functional.linear(input, weight, bias);

    /// <summary>
    /// The model's conv and linear layers in registration order (the forward order of this project's models). Layers that
    /// are neither (normalization, pooling, the fixed Hadamard classifier) stay fp32.
    /// </summary>
    /// <exception cref="UserFacingException">The model has no TorchSharp conv or linear layer to quantize, or has trained
    /// weights (a parameter of two or more dimensions) in a layer of another kind, which would silently stay fp32.</exception>
    public static IReadOnlyList<QuantizableLayer> Of(nn.Module<Tensor, Tensor> model)
    {
        var layers = new List<QuantizableLayer>();
        var unsupported = new List<string>();
        foreach (var (name, module) in model.named_modules())
        {
            // Convolution, not Conv2d: the models' convolutions are ChannelsLastConv2d (TorchSharp's Conv2d is sealed).
            if (module is Convolution { transposed: false } conv && conv.kernel_size.Length == 2)
                layers.Add(new QuantizableLayer(name, conv, ConvolutionShape.From(conv)));
            else if (module is Linear linear) layers.Add(new QuantizableLayer(name, linear, null));
            else if (module.named_parameters(recurse: false).Any(p => p.parameter.requires_grad && p.parameter.dim() >= 2))
                unsupported.Add($"{(name.Length == 0 ? "(the model)" : name)} ({module.GetType().Name})");
        }
        if (unsupported.Count > 0)
            throw new UserFacingException("the quantizer supports 2-d convolutions and linear layers only; these layers have trained weights " +
                $"it cannot quantize: {string.Join(", ", unsupported)}");
        if (layers.Count == 0) throw new UserFacingException("the model has no conv or linear layer to quantize");
        return layers;
    }
}
