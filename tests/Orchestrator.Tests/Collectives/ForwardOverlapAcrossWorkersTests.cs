using System.Globalization;
using Orchestrator.Trainer.Telemetry;
using Orchestrator.Spec;

namespace Orchestrator.Tests.Collectives;

/// <summary>
/// <c>compression.overlap_forward</c> under <c>mpirun.mpich -np 2</c> and <c>-np 4</c>: a run that applies each bucket's
/// update when the next forward first needs it, with big buckets in pieces sent in the next forward's order, trains the
/// same bits as one that averages everything after the backward and updates at once (losses, skipped steps, the final
/// checkpoint's parameters, momentum and error-feedback residuals), for every codec, with micro-batches and a step that a
/// non-finite gradient on one worker makes every worker skip. Deferral spans steps here: nothing between the steps
/// completes it (no per-step verification), so the next forward's hooks do.
/// </summary>
public sealed class ForwardOverlapAcrossWorkersTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(8);

    private static readonly string[] Codecs =
    [
        "compression.codec=none;compression.algorithm=mpi",
        "compression.codec=none;compression.algorithm=ring",
        "compression.codec=int8;compression.algorithm=allgather",
        "compression.codec=nm+int8;compression.algorithm=ring;compression.error_feedback=true",
    ];

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void Deferred_updates_train_the_same_bits_as_updates_after_the_backward(int ranks)
    {
        using var dir = new TempDirectory();
        var spec = dir.File("spec.yaml");
        // Buckets of at most ~2600 values: fc1's 50,176-value weight is a bucket of its own that travels in 25 pieces.
        File.WriteAllText(spec, """
            name: overlap-forward
            model: { kind: cnn, width: 4 }
            data: { dataset: synthetic, train_subset: 512, test_subset: 64, augment: { crop_padding: 2, flip: true } }
            training: { epochs: 1, global_batch: 64, micro_batch: 8, threads: 1, seed: 11, optimizer: { kind: sgd, lr: 0.05, momentum: 0.9, weight_decay: 0.0005, nesterov: true } }
            compression: { bucket_mb: 0.01, min_compress_elements: 64, warmup_steps: 2 }
            """);
        var run = dir.File("run");
        var variants = Codecs.SelectMany(codec => new[] { codec + ";compression.overlap=false", codec + ";compression.overlap_forward=true" }).ToList();
        var result = MpiRunner.Run(ranks, Limit, ["train", spec, "--out", run, "--inject-nan", $"5:{ranks - 1}",
            .. variants.SelectMany(v => new[] { "--variant", v })]);
        Assert.True(result.ExitCode == 0, result.ToString()); // the final check of bit-identical ranks fails the job otherwise

        for (int c = 0; c < Codecs.Length; c++)
        {
            string after = Path.Combine(run, (2 * c).ToString(CultureInfo.InvariantCulture));
            string deferred = Path.Combine(run, (2 * c + 1).ToString(CultureInfo.InvariantCulture));
            var (reference, _) = MetricsLog.Read(Path.Combine(after, "metrics.jsonl"));
            var (overlapped, evaluations) = MetricsLog.Read(Path.Combine(deferred, "metrics.jsonl"));
            Assert.Equal(8, overlapped.Count);
            Assert.Equal(reference.Select(s => (s.Step, s.Loss, s.Accuracy, s.Skipped)), overlapped.Select(s => (s.Step, s.Loss, s.Accuracy, s.Skipped)));
            Assert.Equal([5L], overlapped.Where(s => s.Skipped).Select(s => s.Step - 1)); // records count steps from 1
            Assert.True(double.IsFinite(Assert.Single(evaluations).TestLoss), Codecs[c]);
            Assert.True(RunOutputs.OverlappedSteps(deferred) >= overlapped.Count(s => !s.Skipped), $"{Codecs[c]}: no bucket started before the backward ended");

            RunOutputs.AssertSameFinalState(after, deferred, Codecs[c]);
        }
    }

    /// <summary>The ResNet's classifier is called by the model's own forward (no hook runs for it), and its blocks call
    /// their convolutions directly: the buckets must still be applied before their parameters are used.</summary>
    [Fact]
    public void A_model_that_calls_layers_directly_trains_the_same_bits()
    {
        using var dir = new TempDirectory();
        var spec = dir.File("spec.yaml");
        File.WriteAllText(spec, """
            name: overlap-forward-resnet
            model: { kind: resnet20, width: 4 }
            data: { dataset: synthetic, train_subset: 256, test_subset: 32 }
            training: { epochs: 1, global_batch: 64, threads: 1, seed: 5 }
            compression: { codec: none, algorithm: ring, bucket_mb: 0.002, min_compress_elements: 64 }
            """);
        var run = dir.File("run");
        var result = MpiRunner.Run(2, Limit, ["train", spec, "--out", run,
            "--variant", "compression.overlap=false", "--variant", "compression.overlap_forward=true"]);
        Assert.True(result.ExitCode == 0, result.ToString());
        var (reference, _) = MetricsLog.Read(Path.Combine(run, "0", "metrics.jsonl"));
        var (overlapped, _) = MetricsLog.Read(Path.Combine(run, "1", "metrics.jsonl"));
        Assert.Equal(4, overlapped.Count);
        Assert.Equal(reference.Select(s => s.Loss), overlapped.Select(s => s.Loss));
        Assert.True(RunOutputs.Final(Path.Combine(run, "0")).ModelState.AsSpan().SequenceEqual(RunOutputs.Final(Path.Combine(run, "1")).ModelState), "parameters differ");
    }
}
