using Orchestrator.Spec;
using Orchestrator.Trainer.Normalization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Models;

/// <summary>
/// conv(w) -> norm -> ReLU -> pool -> conv(2w) -> norm -> ReLU -> pool -> fc128 -> ReLU -> fc(classes).
/// With w = 32 this is the Fashion-MNIST reference CNN (~91-93% test accuracy) that the PyTorch
/// comparison benchmark defines identically.
/// </summary>
public sealed class SmallCnn : nn.Module<Tensor, Tensor>
{
    private readonly Sequential features;
    private readonly Sequential head;

    public SmallCnn(ModelInput input, int width, INormalizationFactory norms, ClassifierKind classifier = ClassifierKind.Linear, ILayerFactory? layers = null) : base(nameof(SmallCnn))
    {
        layers ??= DenseLayerFactory.Instance;
        bool bias = !norms.Normalizes;
        features = nn.Sequential(
            ("conv1", layers.Conv2d(input.Channels, width, 3, padding: 1, bias: bias)),
            ("norm1", norms.Norm2d(width)),
            ("relu1", nn.ReLU()),
            ("pool1", nn.MaxPool2d(2)),
            ("conv2", layers.Conv2d(width, 2 * width, 3, padding: 1, bias: bias)),
            ("norm2", norms.Norm2d(2 * width)),
            ("relu2", nn.ReLU()),
            ("pool2", nn.MaxPool2d(2)));
        long flat = 2L * width * (input.Height / 4) * (input.Width / 4);
        head = nn.Sequential(
            ("flatten", nn.Flatten()),
            ("fc1", layers.Linear(flat, 128)),
            ("relu3", nn.ReLU()),
            ("classifier", ClassifierRegistry.Create(classifier, 128, input.Classes, layers)));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var f = features.call(x);
        return head.call(f);
    }
}
