using Orchestrator.Spec;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Models;

/// <summary>Maps the spec's <c>model.classifier</c> to a model's final layer.</summary>
public static class ClassifierRegistry
{
    /// <summary>Builds the final layer <paramref name="kind"/> from <paramref name="inFeatures"/> features to <paramref name="classes"/> logits
    /// (a linear one from <paramref name="layers"/>, default TorchSharp's).</summary>
    public static nn.Module<Tensor, Tensor> Create(ClassifierKind kind, long inFeatures, long classes, ILayerFactory? layers = null) => kind switch
    {
        ClassifierKind.Linear => (layers ?? DenseLayerFactory.Instance).Linear(inFeatures, classes),
        ClassifierKind.Hadamard => new HadamardClassifier(inFeatures, classes),
    };
}
