using Orchestrator.Spec;
using Orchestrator.Trainer.Normalization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Models;

/// <summary>
/// CIFAR-style ResNet of depth 6n+2 (resnet20: n=3, resnet44: n=7): a 3x3 stem, three stages of n
/// residual blocks with w, 2w, 4w channels (stride 2 between stages), global average pool, classifier
/// (linear, or fixed Hadamard).
/// </summary>
public sealed class ResNet : nn.Module<Tensor, Tensor>
{
    private readonly Sequential body;
    private readonly nn.Module<Tensor, Tensor> classifier;

    public ResNet(ModelInput input, int depth, int width, INormalizationFactory norms, ClassifierKind classifier = ClassifierKind.Linear,
        ILayerFactory? layers = null) : base($"ResNet{depth}")
    {
        layers ??= DenseLayerFactory.Instance;
        if ((depth - 2) % 6 != 0) throw new ArgumentException($"ResNet depth must be 6n+2, got {depth}", nameof(depth));
        int blocksPerStage = (depth - 2) / 6;
        var modules = new List<(string, nn.Module<Tensor, Tensor>)>
        {
            ("stem", layers.Conv2d(input.Channels, width, 3, padding: 1, bias: !norms.Normalizes)),
            ("stem_norm", norms.Norm2d(width)),
            ("stem_relu", nn.ReLU()), // not in place: with compression.overlap a module's input is a view (BackwardReadiness)
        };
        long channels = width;
        for (int stage = 0; stage < 3; stage++)
        {
            long outChannels = (long)width << stage;
            for (int b = 0; b < blocksPerStage; b++)
            {
                long stride = stage > 0 && b == 0 ? 2 : 1;
                modules.Add(($"stage{stage + 1}_block{b + 1}", new ResidualBlock(channels, outChannels, stride, norms, layers)));
                channels = outChannels;
            }
        }
        modules.Add(("pool", nn.AdaptiveAvgPool2d(1)));
        modules.Add(("flatten", nn.Flatten()));
        body = nn.Sequential(modules);
        this.classifier = ClassifierRegistry.Create(classifier, channels, input.Classes, layers);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var features = body.call(x);
        return classifier.call(features);
    }
}
