using System.Globalization;
using Orchestrator.Spec;
using Orchestrator.Trainer.Checkpointing;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Models;
using Orchestrator.Trainer.Normalization;
using Orchestrator.Trainer.Telemetry;
using Orchestrator.Trainer.Training;
using Orchestrator.Tests.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Tests.Collectives;

/// <summary>
/// Range batch norm with several workers: each rank's statistics come from its own local batch (or from ghost batches of
/// it) under <c>mpirun.mpich -np 2</c>, parameters stay bit-identical, and the running statistics are averaged like BatchNorm's.
/// </summary>
[Collection(SeededConstructionCollection.Name)]
public sealed class RangeBatchNormAcrossWorkersTests
{
    private const int GlobalBatch = 64;

    private static string Yaml(int ghost) => $$"""
        name: range-per-rank
        model: { kind: cnn, width: 4, norm: range_batch }
        data: { dataset: synthetic, train_subset: 256, test_subset: 128, augment: { crop_padding: 0, flip: false, cutout: 0 } }
        training: { epochs: 1, global_batch: {{GlobalBatch}}, ghost_batch: {{ghost}}, threads: 1, seed: 3 }
        compression: { codec: none, algorithm: mpi }
        checkpoint: { every_steps: 0, keep: 1 }
        """;

    /// <summary>The first step's loss over the whole global batch in one process, with ghost batches of <paramref name="ghost"/> rows (0: none).</summary>
    private static double SingleProcessFirstLoss(int ghost)
    {
        torch.set_num_threads(1);
        var spec = JobSpecLoader.Parse(Yaml(ghost), "spec.yaml", []);
        using var run = new TrainingRun(spec, DatasetRegistry.Load(spec.Data, spec.Training.Seed),
            new TrainingOptions(torch.CPU, null, new SingleProcessSynchronizer(), new RecordingObserver()));
        return run.TrainStep(TrainingPosition.Start).Loss;
    }

    [Theory]
    [InlineData(0, 32)]  // no ghost size: each rank's whole local batch of 32 rows
    [InlineData(16, 16)] // two ghost batches of each rank's local batch
    public void Each_rank_range_normalizes_its_own_rows_and_parameters_stay_identical(int ghost, int sameAsOneProcessGhost)
    {
        using var dir = new TempDirectory();
        var spec = dir.File("spec.yaml");
        File.WriteAllText(spec, Yaml(ghost));
        var run = dir.File("run");
        var result = MpiRunner.Run(2, TimeSpan.FromMinutes(3), ["train", spec, "--out", run, "--verify-every", "1"]);
        Assert.True(result.ExitCode == 0, result.ToString());

        var (steps, evaluations) = MetricsLog.Read(Path.Combine(run, "metrics.jsonl"));
        Assert.Equal(4, steps.Count);
        Assert.True(double.IsFinite(Assert.Single(evaluations).TestLoss));

        // Rank r trains on rows [32 r, 32 r + 32) of the global batch; one process with ghost batches of the same rows
        // gives the same first loss, and whole-batch statistics a clearly different one.
        double distributed = steps[0].Loss;
        double sameRows = SingleProcessFirstLoss(sameAsOneProcessGhost);
        double wholeBatch = SingleProcessFirstLoss(0);
        Assert.True(Math.Abs(distributed - sameRows) < 1e-5,
            string.Create(CultureInfo.InvariantCulture, $"2 ranks: {distributed}, one process with ghost {sameAsOneProcessGhost}: {sameRows}"));
        Assert.True(Math.Abs(wholeBatch - sameRows) > 100 * Math.Max(Math.Abs(distributed - sameRows), 1e-7),
            string.Create(CultureInfo.InvariantCulture, $"the check cannot tell: whole-batch statistics give {wholeBatch}, per-rank {sameRows}"));
    }

    [Fact]
    public void Buffer_sync_averages_the_running_mean_and_sigma()
    {
        var results = InProcessWorld.Run(3, communicator =>
        {
            using var scope = NewDisposeScope();
            using var model = ModelRegistry.Create(new ModelSpec(ModelKind.Mlp, 2, NormKind.RangeBatch), new ModelInput(1, 4, 4, 3));
            using var synchronizer = new MpiGradientSynchronizer(communicator, CompressionSpec.Default, seed: 1);
            synchronizer.Attach(model);
            var norm = model.modules().OfType<RangeBatchNorm>().First();
            using (no_grad())
            {
                norm.RunningMean.fill_(communicator.Rank);
                norm.RunningStd.fill_(communicator.Rank + 1);
            }
            synchronizer.SyncBuffers(model);
            return (Mean: norm.RunningMean.mean().item<float>(), Std: norm.RunningStd.mean().item<float>());
        });
        Assert.All(results, r => Assert.Equal(1f, r.Mean, 6)); // (0 + 1 + 2) / 3
        Assert.All(results, r => Assert.Equal(2f, r.Std, 6));  // (1 + 2 + 3) / 3
    }
}
