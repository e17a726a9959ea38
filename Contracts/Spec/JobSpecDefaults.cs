namespace Orchestrator.Contracts.Spec;

/// <summary>The values a job spec takes for every key the user leaves out. Only <c>name</c> has none.</summary>
public static class JobSpecDefaults
{
    /// <summary>Default compute device.</summary>
    public static DeviceKind Device => DeviceKind.Auto;

    /// <summary>Default model section.</summary>
    public static ModelSpec Model { get; } = new("cnn", 32, "batch");

    /// <summary>Default augmentation: none.</summary>
    public static AugmentSpec Augment { get; } = new(0, false, 0);

    /// <summary>Default data section.</summary>
    public static DataSpec Data { get; } = new("fashion-mnist", "/usr/share/datasets/fashion-mnist", 0, 0, Augment);

    /// <summary>Default optimizer.</summary>
    public static OptimizerSpec Optimizer { get; } = new("sgd", 0.05, 0.9, false, 5e-4);

    /// <summary>Default training section.</summary>
    public static TrainingSpec Training { get; } = new(5, 256, Optimizer, 1, 0);

    /// <summary>Default checkpoint section.</summary>
    public static CheckpointSpec Checkpoint { get; } = new(200, 3);
}
