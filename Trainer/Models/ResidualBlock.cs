using Orchestrator.Trainer.Normalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Models;

/// <summary>
/// The CIFAR ResNet basic block: two 3x3 convolutions with normalization, and an identity
/// shortcut (1x1 projection when the shape changes).
/// </summary>
public sealed class ResidualBlock : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> conv1, norm1, conv2, norm2;
    private readonly nn.Module<Tensor, Tensor>? projection;
    private readonly bool inPlace;

    public ResidualBlock(long inChannels, long outChannels, long stride, INormalizationFactory norms, ILayerFactory? layers = null) : base(nameof(ResidualBlock))
    {
        layers ??= DenseLayerFactory.Instance;
        bool bias = !norms.Normalizes;
        // Without normalization the tensors ReLU and the add would overwrite are the convolutions' outputs, which a
        // layer's own autograd function may hand out as a view (gradient pruning): those must not be written in place.
        inPlace = norms.Normalizes;
        conv1 = layers.Conv2d(inChannels, outChannels, 3, stride: stride, padding: 1, bias: bias);
        norm1 = norms.Norm2d(outChannels);
        conv2 = layers.Conv2d(outChannels, outChannels, 3, padding: 1, bias: bias);
        norm2 = norms.Norm2d(outChannels);
        if (stride != 1 || inChannels != outChannels)
            projection = nn.Sequential(layers.Conv2d(inChannels, outChannels, 1, stride: stride, bias: bias), norms.Norm2d(outChannels));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = Activate(norm1.call(conv1.call(x)));
        y = norm2.call(conv2.call(y));
        var shortcut = projection is null ? x : projection.call(x);
        return Activate(inPlace ? y.add_(shortcut) : y + shortcut).MoveToOuterDisposeScope();
    }

    // A normalization's output is a fresh tensor that no backward reads (batch norm keeps its input), so ReLU and the
    // shortcut's add may overwrite it, as torchvision's blocks do: two fewer activation-sized tensors a block. Only
    // tensors made inside this forward: a module's input may be an alias made by a custom autograd function
    // (BackwardReadiness' marker), which libtorch forbids to modify in place.
    private Tensor Activate(Tensor t) => inPlace ? t.relu_() : nn.functional.relu(t);
}
