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

    public ResidualBlock(long inChannels, long outChannels, long stride, INormalizationFactory norms, ILayerFactory? layers = null) : base(nameof(ResidualBlock))
    {
        layers ??= DenseLayerFactory.Instance;
        bool bias = !norms.Normalizes;
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
        var y = nn.functional.relu(norm1.call(conv1.call(x)));
        y = norm2.call(conv2.call(y));
        var shortcut = projection is null ? x : projection.call(x);
        return nn.functional.relu(y + shortcut).MoveToOuterDisposeScope();
    }
}
