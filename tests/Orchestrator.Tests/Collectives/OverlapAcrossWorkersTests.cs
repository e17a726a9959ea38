using System.Globalization;
using Orchestrator.Trainer.Telemetry;
using Orchestrator.Spec;

namespace Orchestrator.Tests.Collectives;

/// <summary>
/// <c>compression.overlap</c> under <c>mpirun.mpich -np 2</c> and <c>-np 4</c>: for every codec, a run whose buckets
/// are averaged during the last micro-batch's backward trains the same bits as one that averages after it (losses, and
/// the final checkpoint's parameters, momentum and every rank's error-feedback residuals), through a warm-up and a step
/// that a non-finite gradient on one worker makes every worker skip; the ranks stay bit-identical after every step.
/// </summary>
public sealed class OverlapAcrossWorkersTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(8);

    private static readonly string[] Codecs =
    [
        "compression.codec=none;compression.algorithm=mpi",
        "compression.codec=none;compression.algorithm=ring",
        "compression.codec=int8;compression.algorithm=allgather",
        "compression.codec=nm;compression.pruner=greedy;compression.algorithm=ring;compression.error_feedback=true",
        "compression.codec=nm+int8;compression.algorithm=ring;compression.error_feedback=true",
    ];

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void Every_codec_trains_the_same_bits_with_and_without_overlap(int ranks)
    {
        using var dir = new TempDirectory();
        var spec = dir.File("spec.yaml");
        // Buckets of ~2600 values: the CNN's weights make several, so some start while the backward still runs.
        File.WriteAllText(spec, """
            name: overlap
            model: { kind: cnn, width: 4 }
            data: { dataset: synthetic, train_subset: 512, test_subset: 64, augment: { crop_padding: 2, flip: true } }
            training: { epochs: 1, global_batch: 64, micro_batch: 8, threads: 1, seed: 11 }
            compression: { bucket_mb: 0.01, min_compress_elements: 64, warmup_steps: 2 }
            """);
        var run = dir.File("run");
        var variants = Codecs.SelectMany(codec => new[] { codec + ";compression.overlap=false", codec + ";compression.overlap=true" }).ToList();
        // Step 5's gradient turns NaN on the last rank after its backward: every rank must skip that step in both modes.
        var result = MpiRunner.Run(ranks, Limit, ["train", spec, "--out", run, "--verify-every", "1", "--inject-nan", $"5:{ranks - 1}",
            .. variants.SelectMany(v => new[] { "--variant", v })]);
        Assert.True(result.ExitCode == 0, result.ToString()); // a divergence between ranks fails the job at that step

        for (int c = 0; c < Codecs.Length; c++)
        {
            string after = Path.Combine(run, (2 * c).ToString(CultureInfo.InvariantCulture));
            string during = Path.Combine(run, (2 * c + 1).ToString(CultureInfo.InvariantCulture));
            var (reference, _) = MetricsLog.Read(Path.Combine(after, "metrics.jsonl"));
            var (overlapped, evaluations) = MetricsLog.Read(Path.Combine(during, "metrics.jsonl"));
            Assert.Equal(8, overlapped.Count);
            Assert.Equal(reference.Select(s => (s.Step, s.Loss, s.Accuracy, s.Skipped)), overlapped.Select(s => (s.Step, s.Loss, s.Accuracy, s.Skipped)));
            Assert.Equal([5L], overlapped.Where(s => s.Skipped).Select(s => s.Step - 1)); // records count steps from 1
            Assert.True(double.IsFinite(Assert.Single(evaluations).TestLoss), Codecs[c]);
            Assert.All(reference, s => Assert.Equal(0, s.HiddenSeconds));
            // Whether a bucket's averaging finished inside the backward depends on the scheduler (CI's 2 cores may run the
            // communication thread only after it), so the deterministic fact is asserted: buckets were started during it.
            Assert.Equal(0, RunOutputs.OverlappedSteps(after));
            Assert.True(RunOutputs.OverlappedSteps(during) >= overlapped.Count(s => !s.Skipped), $"{Codecs[c]}: no bucket started before the backward ended");

            RunOutputs.AssertSameFinalState(after, during, Codecs[c]);
        }
    }
}
