namespace Orchestrator.Contracts.Spec;

/// <summary>The allowed values of the job spec's string-valued choices.</summary>
public static class SpecVocabulary
{
    /// <summary>Allowed <c>model.kind</c> values.</summary>
    public static IReadOnlyList<string> ModelKinds { get; } = ["mlp", "cnn", "resnet20", "resnet44"];

    /// <summary>Allowed <c>model.norm</c> values.</summary>
    public static IReadOnlyList<string> Norms { get; } = ["batch", "none"];

    /// <summary>Allowed <c>data.dataset</c> values.</summary>
    public static IReadOnlyList<string> Datasets { get; } = ["fashion-mnist", "mnist-idx", "cifar10", Synthetic];

    /// <summary>Allowed <c>training.optimizer.kind</c> values.</summary>
    public static IReadOnlyList<string> OptimizerKinds { get; } = ["sgd"];

    /// <summary>The generated dataset, which needs no files (so <c>data.root</c> is ignored).</summary>
    public const string Synthetic = "synthetic";
}
