using Orchestrator.Trainer.Telemetry;

namespace Orchestrator.Tests.Collectives;

/// <summary>
/// 257 samples at global batch 64 on 2 workers: the epoch's last sample would leave rank 1 an empty batch (ghost batch
/// norm cannot normalize zero rows) and rank 0 a single row (NaN running variance). Every rank folds it into the
/// previous step the same way, and the parameters stay bit-identical (<c>--verify-every 1</c>).
/// </summary>
public sealed class SmallLastBatchAcrossWorkersTests
{
    [Theory]
    [InlineData("batch", 0)]
    [InlineData("ghost_batch", 16)]
    public void Both_ranks_fold_the_one_sample_remainder_into_the_previous_step(string norm, int ghost)
    {
        using var dir = new TempDirectory();
        var spec = dir.File("spec.yaml");
        File.WriteAllText(spec, $$"""
            name: small-last-batch
            model: { kind: mlp, width: 4, norm: {{norm}} }
            data: { dataset: synthetic, train_subset: 257, test_subset: 128, augment: { crop_padding: 0, flip: false, cutout: 0 } }
            training: { epochs: 2, global_batch: 64, ghost_batch: {{ghost}}, threads: 1, seed: 5 }
            compression: { codec: none, algorithm: mpi }
            checkpoint: { every_steps: 0, keep: 1 }
            """);
        var run = dir.File("run");
        var result = MpiRunner.Run(2, TimeSpan.FromMinutes(3), ["train", spec, "--out", run, "--verify-every", "1"]);
        Assert.True(result.ExitCode == 0, result.ToString());

        var (steps, evaluations) = MetricsLog.Read(Path.Combine(run, "metrics.jsonl"));
        Assert.Equal([64, 64, 64, 65, 64, 64, 64, 65], steps.Select(s => s.Samples));
        Assert.Equal(2, evaluations.Count);
        Assert.All(evaluations, e => Assert.True(double.IsFinite(e.TestLoss), $"test loss {e.TestLoss} after step {e.Step}"));
    }
}
