using Orchestrator.Spec;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Trainer.Models;

/// <summary>Maps the spec's <c>model.classifier</c> to a model's final layer.</summary>
public static class ClassifierRegistry
{
    /// <summary>Builds the final layer <paramref name="kind"/> from <paramref name="inFeatures"/> features to <paramref name="classes"/> logits.</summary>
    public static nn.Module<Tensor, Tensor> Create(ClassifierKind kind, long inFeatures, long classes) => kind switch
    {
        ClassifierKind.Linear => nn.Linear(inFeatures, classes),
        ClassifierKind.Hadamard => new HadamardClassifier(inFeatures, classes),
    };
}
