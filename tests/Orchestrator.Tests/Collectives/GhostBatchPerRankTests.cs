using System.Globalization;
using Orchestrator.Spec;
using Orchestrator.Trainer.Checkpointing;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Telemetry;
using Orchestrator.Trainer.Training;
using Orchestrator.Tests.Training;
using TorchSharp;

namespace Orchestrator.Tests.Collectives;

/// <summary>
/// Ghost batches under <c>mpirun.mpich -np 2</c>: each rank's ghost batches are chunks of its own local batch,
/// normalized with statistics of that rank's rows only (no statistic crosses ranks), and the workers' parameters
/// stay bit-identical (<c>--verify-every 1</c>).
/// </summary>
[Collection(SeededConstructionCollection.Name)]
public sealed class GhostBatchPerRankTests
{
    private const int GlobalBatch = 64;

    private static string Yaml(int ghost) => $$"""
        name: ghost-per-rank
        model: { kind: cnn, width: 4, norm: ghost_batch }
        data: { dataset: synthetic, train_subset: 256, test_subset: 128, augment: { crop_padding: 0, flip: false, cutout: 0 } }
        training: { epochs: 1, global_batch: {{GlobalBatch}}, ghost_batch: {{ghost}}, threads: 1, seed: 3 }
        compression: { codec: none, algorithm: mpi }
        checkpoint: { every_steps: 0, keep: 1 }
        """;

    /// <summary>The first step's loss over the whole global batch in one process, with ghost batches of <paramref name="ghost"/> rows.</summary>
    private static double SingleProcessFirstLoss(int ghost)
    {
        torch.set_num_threads(1);
        var spec = JobSpecLoader.Parse(Yaml(ghost), "spec.yaml", []);
        using var run = new TrainingRun(spec, DatasetRegistry.Load(spec.Data, spec.Training.Seed),
            new TrainingOptions(torch.CPU, null, new SingleProcessSynchronizer(), new RecordingObserver()));
        return run.TrainStep(TrainingPosition.Start).Loss;
    }

    [Theory]
    [InlineData(32)] // ghost = the per-worker batch: one ghost batch per rank
    [InlineData(16)] // two ghost chunks of each rank's local batch
    public void Each_rank_normalizes_ghost_chunks_of_its_own_local_batch_and_parameters_stay_identical(int ghost)
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

        // Rank r trains on the contiguous rows [32 r, 32 r + 32) of the global batch (no augmentation, so the rows are the
        // same as in one process). One process with the same ghost size cuts the global batch into exactly these chunks:
        // equal first-step loss. Statistics shared across ranks would instead give one process's loss over bigger chunks.
        double distributed = steps[0].Loss;
        double sameChunks = SingleProcessFirstLoss(ghost);
        double wholeBatch = SingleProcessFirstLoss(GlobalBatch);
        double gap = Math.Abs(wholeBatch - sameChunks);
        Assert.True(Math.Abs(distributed - sameChunks) < 1e-5,
            string.Create(CultureInfo.InvariantCulture, $"2 ranks: {distributed}, one process with ghost {ghost}: {sameChunks}"));
        Assert.True(gap > 100 * Math.Max(Math.Abs(distributed - sameChunks), 1e-7),
            string.Create(CultureInfo.InvariantCulture, $"the check cannot tell: whole-batch statistics give {wholeBatch}, per-chunk {sameChunks}"));
    }
}
