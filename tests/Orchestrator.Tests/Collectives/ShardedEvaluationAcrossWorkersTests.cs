using Orchestrator.Spec;
using Orchestrator.Trainer.Checkpointing;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Models;
using Orchestrator.Trainer.Telemetry;
using Orchestrator.Trainer.Training;
using TorchSharp;

namespace Orchestrator.Tests.Collectives;

/// <summary>
/// Evaluation under <c>mpirun.mpich -np 2</c> and <c>-np 4</c>: each rank evaluates its share of the test set and the
/// sums are added across ranks. The recorded figures must be those of the final model evaluated whole in one process:
/// the accuracy exactly (integer counts), the loss up to float summation order (per-batch sums are float).
/// </summary>
public sealed class ShardedEvaluationAcrossWorkersTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(5);

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void Sharded_evaluation_records_the_figures_of_the_whole_test_set(int ranks)
    {
        using var dir = new TempDirectory();
        var path = dir.File("spec.yaml");
        // 101 test images: the shards differ in size (50/51, 25/25/25/26).
        var yaml = """
            name: sharded-eval
            model: { kind: cnn, width: 4, norm: batch }
            data: { dataset: synthetic, train_subset: 256, test_subset: 101 }
            training: { epochs: 1, global_batch: 32, threads: 1, seed: 3 }
            checkpoint: { every_steps: 0, keep: 1 }
            """;
        File.WriteAllText(path, yaml);
        var run = dir.File("run");

        var result = MpiRunner.Run(ranks, Limit, ["train", path, "--out", run]);
        Assert.True(result.ExitCode == 0, result.ToString());

        var (_, evaluations) = MetricsLog.Read(Path.Combine(run, "metrics.jsonl"));
        var recorded = Assert.Single(evaluations);
        var (loss, accuracy) = EvaluateWhole(JobSpecLoader.Parse(yaml, "spec.yaml", []), run);
        Assert.Equal(accuracy, recorded.TestAccuracy);
        Assert.True(Math.Abs(loss - recorded.TestLoss) <= 1e-5 * Math.Abs(loss), $"whole {loss} vs sharded {recorded.TestLoss}");
        Assert.InRange(accuracy * 101, 0, 101);
        Assert.Equal(Math.Round(accuracy * 101), accuracy * 101, 9); // a count over all 101 images, not over a shard
    }

    private static (double Loss, double Accuracy) EvaluateWhole(JobSpec spec, string run)
    {
        torch.set_num_threads(1);
        var checkpoint = new CheckpointStore(RunLayout.Checkpoints(run), 1).LoadNewestValid(_ => { })
            ?? throw new Xunit.Sdk.XunitException($"{run} has no checkpoint");
        var data = DatasetRegistry.Load(spec.Data, spec.Training.Seed);
        var test = data.Test;
        using var model = ModelRegistry.Create(spec.Model, new ModelInput(test.Channels, test.Height, test.Width, test.Classes));
        using (var stream = new MemoryStream(checkpoint.ModelState)) model.load(stream);
        // One forward over everything: a batch boundary of its own, unlike any shard's.
        return Evaluator.Evaluate(model, test, batchSize: test.Count);
    }
}
