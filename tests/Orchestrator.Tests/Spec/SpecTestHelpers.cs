using Orchestrator.Spec;

namespace Orchestrator.Tests.Spec;

internal static class SpecTestHelpers
{
    public static JobSpec Parse(string yaml, params string[] overrides) =>
        JobSpecLoader.Parse(yaml, "test.yaml", overrides);

    public static SpecException Fails(string yaml, params string[] overrides) =>
        Assert.Throws<SpecException>(() => JobSpecLoader.Parse(yaml, "test.yaml", overrides));

    /// <summary>The single error the spec produces.</summary>
    public static SpecError FailsOnce(string yaml, params string[] overrides) => Assert.Single(Fails(yaml, overrides).Errors);

    /// <summary>A complete spec where every value differs from its default; comments give line numbers.</summary>
    public const string FullYaml = """
        name: fmnist-cnn
        device: cuda
        model: { kind: resnet20, width: 16, norm: none }
        data:
          dataset: cifar10
          root: /data/cifar
          train_subset: 1000
          test_subset: 500
          augment: { crop_padding: 4, flip: true, cutout: 8 }
        training:
          epochs: 7
          global_batch: 128
          optimizer: { kind: sgd, lr: 0.1, momentum: 0.8, nesterov: true, weight_decay: 1e-4 }
          seed: 42
          threads: 3
        checkpoint: { every_steps: 50, keep: 2 }
        """;

    public static readonly JobSpec Full = new(
        "fmnist-cnn",
        DeviceKind.Cuda,
        new ModelSpec(ModelKind.ResNet20, 16, NormKind.None),
        new DataSpec(DatasetKind.Cifar10, "/data/cifar", 1000, 500, new AugmentSpec(4, true, 8)),
        new TrainingSpec(7, 128, new OptimizerSpec(OptimizerKind.Sgd, 0.1, 0.8, true, 1e-4), 42, 3),
        new CheckpointSpec(50, 2));
}
