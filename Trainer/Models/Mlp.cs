using Orchestrator.Spec;
using Orchestrator.Trainer.Normalization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Models;

/// <summary>Two hidden layers of <c>8 x width</c> units, each linear -> norm -> ReLU, then the classifier.</summary>
public sealed class Mlp : nn.Module<Tensor, Tensor>
{
    private readonly Sequential layers;

    public Mlp(ModelInput input, int width, INormalizationFactory norms, ClassifierKind classifier = ClassifierKind.Linear, ILayerFactory? layers = null) : base(nameof(Mlp))
    {
        layers ??= DenseLayerFactory.Instance;
        long hidden = 8L * width;
        long inputs = (long)input.Channels * input.Height * input.Width;
        this.layers = nn.Sequential(
            ("flatten", nn.Flatten()),
            ("fc1", layers.Linear(inputs, hidden, bias: !norms.Normalizes)),
            ("norm1", norms.Norm1d(hidden)),
            ("relu1", nn.ReLU()),
            ("fc2", layers.Linear(hidden, hidden, bias: !norms.Normalizes)),
            ("norm2", norms.Norm1d(hidden)),
            ("relu2", nn.ReLU()),
            ("classifier", ClassifierRegistry.Create(classifier, hidden, input.Classes, layers)));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => layers.call(x);
}
