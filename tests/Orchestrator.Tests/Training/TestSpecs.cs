using Orchestrator.Spec;

namespace Orchestrator.Tests.Training;

/// <summary>Small job specs for fast training tests.</summary>
internal static class TestSpecs
{
    public static JobSpec Synthetic(int epochs = 2, int batch = 64, int everySteps = 5, int keep = 10, ModelKind kind = ModelKind.Cnn, int width = 4, NormKind norm = NormKind.Batch) =>
        new("test-job", DeviceKind.Cpu, new ModelSpec(kind, width, norm),
            new DataSpec(DatasetKind.Synthetic, "", 512, 256, new AugmentSpec(2, true, 3)),
            new TrainingSpec(epochs, batch, new OptimizerSpec(OptimizerKind.Sgd, 0.05, 0.9, false, 5e-4), 7, 1),
            new CheckpointSpec(everySteps, keep));
}
