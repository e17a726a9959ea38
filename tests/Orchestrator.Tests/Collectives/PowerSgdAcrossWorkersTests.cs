using System.Globalization;
using System.Text.Json;
using Orchestrator.Spec;
using Orchestrator.Trainer.Checkpointing;
using Orchestrator.Trainer.Telemetry;

namespace Orchestrator.Tests.Collectives;

/// <summary>
/// Codec powersgd under <c>mpirun.mpich -np 2</c> and <c>-np 4</c>: parameter hashes compared after every step
/// (<c>--verify-every 1</c>), so a run that finishes kept the ranks bit-identical; with overlap on and off (the same bits:
/// losses, parameters, momentum, residuals and warm-start factors), through a warm-up and a step a NaN makes every rank
/// skip; and a resume from a checkpoint that continues bit-exactly, of a run whose loss falls.
/// </summary>
public sealed class PowerSgdAcrossWorkersTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(8);

    private static readonly string[] Variants =
    [
        "compression.codec=powersgd;compression.rank=2;compression.overlap=false",
        "compression.codec=powersgd;compression.rank=2;compression.overlap=true",
        "compression.codec=powersgd;compression.rank=1;compression.error_feedback=false;compression.overlap=false",
        "compression.codec=powersgd;compression.rank=1;compression.error_feedback=false;compression.overlap=true",
    ];

    private static string WriteSpec(TempDirectory dir, int epochs = 1, int everySteps = 0)
    {
        var spec = dir.File("spec.yaml");
        // Buckets of ~2600 values: the CNN's weights make several, so some start while the backward still runs.
        File.WriteAllText(spec, $$"""
            name: powersgd
            model: { kind: cnn, width: 4 }
            data: { dataset: synthetic, train_subset: 512, test_subset: 64, augment: { crop_padding: 2, flip: true } }
            training: { epochs: {{epochs}}, global_batch: 64, micro_batch: 8, threads: 1, seed: 11 }
            checkpoint: { every_steps: {{everySteps}}, keep: 3 }
            compression: { codec: powersgd, bucket_mb: 0.01, min_compress_elements: 64, warmup_steps: 2 }
            """);
        return spec;
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void Powersgd_keeps_ranks_bit_identical_and_trains_the_same_bits_with_and_without_overlap(int ranks)
    {
        using var dir = new TempDirectory();
        var spec = WriteSpec(dir);
        var run = dir.File("run");
        var result = MpiRunner.Run(ranks, Limit, ["train", spec, "--out", run, "--verify-every", "1", "--inject-nan", $"5:{ranks - 1}",
            .. Variants.SelectMany(v => new[] { "--variant", v })]);
        Assert.True(result.ExitCode == 0, result.ToString()); // a divergence between ranks fails the job at that step

        for (int pair = 0; pair < Variants.Length / 2; pair++)
        {
            string after = Path.Combine(run, (2 * pair).ToString(CultureInfo.InvariantCulture));
            string during = Path.Combine(run, (2 * pair + 1).ToString(CultureInfo.InvariantCulture));
            var (reference, _) = MetricsLog.Read(Path.Combine(after, "metrics.jsonl"));
            var (overlapped, evaluations) = MetricsLog.Read(Path.Combine(during, "metrics.jsonl"));
            Assert.Equal(8, overlapped.Count);
            Assert.Equal(reference.Select(s => (s.Step, s.Loss, s.Accuracy, s.Skipped)), overlapped.Select(s => (s.Step, s.Loss, s.Accuracy, s.Skipped)));
            Assert.Equal([5L], overlapped.Where(s => s.Skipped).Select(s => s.Step - 1));
            Assert.All(overlapped, s => Assert.True(double.IsFinite(s.Loss), $"{Variants[2 * pair]}: loss {s.Loss} at step {s.Step}"));
            Assert.True(double.IsFinite(Assert.Single(evaluations).TestLoss), Variants[2 * pair]);

            var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(during, "summary.json"))).RootElement;
            Assert.Equal(pair == 0 ? "powersgd r2" : "powersgd r1", summary.GetProperty("codec").GetString());
            Assert.Equal("mpi", summary.GetProperty("algorithm").GetString());
            Assert.True(summary.GetProperty("compression_ratio").GetDouble() > 1.5, "compression ratio");

            var expected = Final(after);
            var actual = Final(during);
            Assert.True(expected.ModelState.AsSpan().SequenceEqual(actual.ModelState), $"{Variants[2 * pair]}: parameters differ");
            Assert.True(expected.OptimizerState.AsSpan().SequenceEqual(actual.OptimizerState), $"{Variants[2 * pair]}: momentum differs");
            Assert.True(expected.SynchronizerState.AsSpan().SequenceEqual(actual.SynchronizerState), $"{Variants[2 * pair]}: residuals or factors differ");
            Assert.NotEmpty(actual.SynchronizerState); // the warm-start factors are there even without error feedback
        }
    }

    [Fact]
    public void A_powersgd_run_resumed_from_a_checkpoint_continues_bit_exactly()
    {
        using var dir = new TempDirectory();
        var spec = WriteSpec(dir, epochs: 2, everySteps: 5);
        var full = dir.File("full");
        var interrupted = dir.File("interrupted");

        var reference = MpiRunner.Run(2, Limit, ["train", spec, "--out", full, "--verify-every", "1"]);
        Assert.True(reference.ExitCode == 0, reference.ToString());
        var first = MpiRunner.Run(2, Limit, ["train", spec, "--out", interrupted, "--verify-every", "1", "--stop-after", "12"]);
        Assert.True(first.ExitCode == 0, first.ToString());
        var resumed = MpiRunner.Run(2, Limit, ["train", spec, "--out", interrupted, "--verify-every", "1"]);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains("resumed from", resumed.Output);
        Assert.DoesNotContain("restarts from", resumed.Output);

        var (steps, evaluations) = MetricsLog.Read(Path.Combine(full, "metrics.jsonl"));
        var (continued, continuedEvaluations) = MetricsLog.Read(Path.Combine(interrupted, "metrics.jsonl"));
        Assert.Equal(16, steps.Count);
        Assert.Equal(steps.Select(s => (s.Step, s.Loss)), continued.Select(s => (s.Step, s.Loss)));
        Assert.Equal(evaluations.Select(e => e.TestLoss), continuedEvaluations.Select(e => e.TestLoss));
        // It learns: over 16 steps the training loss falls (8 steps of one batch each are too noisy to say).
        double early = steps.Take(4).Average(s => s.Loss), late = steps.TakeLast(4).Average(s => s.Loss);
        Assert.True(late < early, $"training loss {early} over the first 4 steps, {late} over the last 4");
    }

    private static Checkpoint Final(string run) =>
        new CheckpointStore(RunLayout.Checkpoints(run), 3).LoadNewestValid(_ => { })
        ?? throw new Xunit.Sdk.XunitException($"{run} has no checkpoint");
}
