using System.Globalization;
using Orchestrator.Trainer.Telemetry;

namespace Orchestrator.Tests.Collectives;

/// <summary>
/// Gradient accumulation under <c>mpirun.mpich -np 2</c> and <c>-np 4</c>: micro-batches of whole ghost batches with every
/// codec keep the ranks bit-identical (<c>--verify-every 1</c>) and train the same steps as one pass per worker (losses
/// equal up to float summation order); a run with micro-batches resumes from its checkpoint identically.
/// </summary>
public sealed class GradientAccumulationAcrossWorkersTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(6);

    private static string Spec(TempDirectory dir, int epochs = 1, int everySteps = 0)
    {
        var path = dir.File("spec.yaml");
        File.WriteAllText(path, $$"""
            name: accumulation
            model: { kind: cnn, width: 4, norm: ghost_batch }
            data: { dataset: synthetic, train_subset: 512, test_subset: 128, augment: { crop_padding: 2, flip: true } }
            training: { epochs: {{epochs}}, global_batch: 64, ghost_batch: 4, batch_augmentation: 2, threads: 1, seed: 5 }
            checkpoint: { every_steps: {{everySteps}}, keep: 3 }
            compression: { min_compress_elements: 256 }
            """);
        return path;
    }

    private static readonly string[] Codecs =
    [
        "compression.codec=none;compression.algorithm=mpi",
        "compression.codec=int8;compression.algorithm=allgather",
        "compression.codec=nm+int8;compression.algorithm=ring;compression.error_feedback=true",
    ];

    [Theory]
    [InlineData(2, 8)]  // 32 samples per worker: 4 passes of 8 samples x 2 copies = 4 ghost batches each
    [InlineData(4, 4)]  // 16 per worker: 4 passes of 4 samples x 2 copies = 2 ghost batches each
    public void Every_codec_trains_in_micro_batches_with_identical_ranks_and_the_losses_of_one_pass(int ranks, int micro)
    {
        using var dir = new TempDirectory();
        var run = dir.File("run");
        var variants = Codecs.SelectMany(codec => new[] { codec + ";training.micro_batch=0", codec + $";training.micro_batch={micro}" }).ToList();
        var result = MpiRunner.Run(ranks, Limit,
            ["train", Spec(dir), "--out", run, "--verify-every", "1", .. variants.SelectMany(v => new[] { "--variant", v })]);
        Assert.True(result.ExitCode == 0, result.ToString()); // a divergence between ranks fails the job at that step

        for (int c = 0; c < Codecs.Length; c++)
        {
            var (whole, _) = MetricsLog.Read(Path.Combine(run, (2 * c).ToString(CultureInfo.InvariantCulture), "metrics.jsonl"));
            var (passes, evaluations) = MetricsLog.Read(Path.Combine(run, (2 * c + 1).ToString(CultureInfo.InvariantCulture), "metrics.jsonl"));
            Assert.Equal(8, passes.Count);
            Assert.True(double.IsFinite(Assert.Single(evaluations).TestLoss), Codecs[c]);
            // The first step starts from the same parameters: its loss is the same mean over the same rows.
            Assert.True(Math.Abs(whole[0].Loss - passes[0].Loss) <= 1e-5 * Math.Abs(whole[0].Loss), $"{Codecs[c]}: first loss {whole[0].Loss} vs {passes[0].Loss}");
            // Later steps follow gradients equal up to summation order (stochastic codecs draw alike: same seeds, same sizes).
            Assert.All(whole.Zip(passes), p => Assert.True(Math.Abs(p.First.Loss - p.Second.Loss) < 1e-2,
                $"{Codecs[c]} step {p.First.Step}: {p.First.Loss} vs {p.Second.Loss}"));
        }
    }

    [Fact]
    public void A_run_in_micro_batches_resumed_from_a_checkpoint_continues_identically()
    {
        using var dir = new TempDirectory();
        var spec = Spec(dir, epochs: 2, everySteps: 5);
        string[] settings = ["--set", "training.micro_batch=8", "--set", "compression.codec=nm+int8", "--set", "compression.algorithm=ring",
            "--set", "compression.error_feedback=true"];
        var full = dir.File("full");
        var interrupted = dir.File("interrupted");

        var reference = MpiRunner.Run(2, Limit, ["train", spec, "--out", full, "--verify-every", "1", .. settings]);
        Assert.True(reference.ExitCode == 0, reference.ToString());
        var first = MpiRunner.Run(2, Limit, ["train", spec, "--out", interrupted, "--stop-after", "7", .. settings]);
        Assert.True(first.ExitCode == 0, first.ToString());
        var resumed = MpiRunner.Run(2, Limit, ["train", spec, "--out", interrupted, .. settings]);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains("resumed from", resumed.Output);

        var (steps, evaluations) = MetricsLog.Read(Path.Combine(full, "metrics.jsonl"));
        var (continued, continuedEvaluations) = MetricsLog.Read(Path.Combine(interrupted, "metrics.jsonl"));
        Assert.Equal(16, steps.Count);
        Assert.Equal(steps.Select(s => (s.Step, s.Loss)), continued.Select(s => (s.Step, s.Loss)));
        Assert.Equal(evaluations.Select(e => e.TestLoss), continuedEvaluations.Select(e => e.TestLoss));
    }
}
