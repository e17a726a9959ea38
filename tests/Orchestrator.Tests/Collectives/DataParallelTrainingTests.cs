using System.Text.Json;
using Orchestrator.Trainer.Telemetry;

namespace Orchestrator.Tests.Collectives;

/// <summary>
/// Real data-parallel training under <c>mpirun.mpich -np 2</c> and <c>-np 4</c>: the workers' parameter
/// hashes are compared after every step (<c>--verify-every 1</c>), so a run that finishes proves the
/// parameters stayed bit-identical.
/// </summary>
public sealed class DataParallelTrainingTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan SweepLimit = TimeSpan.FromMinutes(6);

    private static string Spec(TempDirectory dir, string compression, int epochs = 1, int everySteps = 0) =>
        WriteSpec(dir, $$"""
            name: dp-test
            model: { kind: cnn, width: 4 }
            data: { dataset: synthetic, train_subset: 1024, test_subset: 256, augment: { crop_padding: 2, flip: true } }
            training: { epochs: {{epochs}}, global_batch: 64, threads: 1, seed: 3 }
            checkpoint: { every_steps: {{everySteps}}, keep: 3 }
            compression: {{compression}}
            """);

    private static string WriteSpec(TempDirectory dir, string yaml)
    {
        var path = dir.File("spec.yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    private static JsonElement Summary(string run) => JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "summary.json"))).RootElement.Clone();

    private static MpiRunResult Train(int ranks, string spec, string run, params string[] extra) =>
        MpiRunner.Run(ranks, Limit, ["train", spec, "--out", run, "--verify-every", "1", .. extra]);

    /// <summary>One compression configuration of the matrix, as <c>--set</c> overrides and the labels the summary reports.</summary>
    private sealed record Combo(string Codec, int N, int M, string Pruner, string Algorithm)
    {
        public string Variant => $"compression.codec={Codec};compression.n={N};compression.m={M};compression.pruner={Pruner};compression.algorithm={Algorithm}";

        public string CodecLabel => Codec switch
        {
            "none" or "int8" => Codec,
            _ => $"{N}:{M} {Pruner}{Codec[2..]}",
        };

        public override string ToString() => $"{CodecLabel} / {Algorithm}";
    }

    /// <summary>Every codec (N:M with both pruners, and 2:4 and 1:2 for nm+int8) with ring and allgather, and mpi for none.</summary>
    private static readonly Combo[] Matrix =
    [
        new("none", 2, 4, "mvue", "mpi"),
        .. from codec in new (string Codec, int N, int M, string Pruner)[]
           {
               ("none", 2, 4, "mvue"), ("int8", 2, 4, "mvue"), ("nm", 2, 4, "mvue"), ("nm", 2, 4, "greedy"),
               ("nm+int8", 2, 4, "mvue"), ("nm+int8", 1, 2, "mvue"), ("nm+int8", 2, 4, "greedy"),
           }
           from algorithm in new[] { "ring", "allgather" }
           select new Combo(codec.Codec, codec.N, codec.M, codec.Pruner, algorithm),
    ];

    /// <summary>
    /// Trains every combo, one after the other in one <c>mpirun</c> job (<c>train --variant</c>: a job's
    /// start-up costs more than this model's 16 steps), comparing parameter hashes after every step; returns
    /// each combo's summary, checked to report the codec and algorithm asked for.
    /// </summary>
    private static JsonElement[] TrainEach(int ranks, IReadOnlyList<Combo> combos, params string[] extra)
    {
        using var dir = new TempDirectory();
        var spec = Spec(dir, "{ min_compress_elements: 256 }");
        var run = dir.File("run");
        var result = MpiRunner.Run(ranks, SweepLimit,
            ["train", spec, "--out", run, "--verify-every", "1", .. combos.SelectMany(c => new[] { "--variant", c.Variant }), .. extra]);
        // A divergence fails the job at that step; the output names the run directory (run/<index>) it was training.
        Assert.True(result.ExitCode == 0, result.ToString());
        return combos.Select((combo, i) =>
        {
            var summary = Summary(Path.Combine(run, i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            Assert.Equal(combo.CodecLabel, summary.GetProperty("codec").GetString());
            Assert.Equal(combo.Algorithm, summary.GetProperty("algorithm").GetString());
            return summary;
        }).ToArray();
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void Every_codec_and_algorithm_keeps_parameters_bit_identical(int ranks)
    {
        var summaries = TrainEach(ranks, Matrix);

        foreach (var (combo, summary) in Matrix.Zip(summaries))
        {
            Assert.Equal(ranks, summary.GetProperty("workers").GetInt32());
            Assert.Equal(16, summary.GetProperty("steps").GetInt64());
            Assert.True(double.IsFinite(summary.GetProperty("test_loss").GetDouble()), $"{combo}: test loss");
            Assert.True(summary.GetProperty("bytes_sent_per_step").GetDouble() > 0, $"{combo}: nothing sent");
            double ratio = summary.GetProperty("compression_ratio").GetDouble();
            if (combo.Codec == "none") Assert.Equal(1.0, ratio);
            else Assert.True(ratio > 1.5, $"{combo}: compression ratio {ratio}");
        }
    }

    /// <summary>The torch ops force the device path (buckets averaged where they live, issue 14 item 7) on CPU tensors,
    /// with error feedback and overlap on: parameters stay bit-identical at 2 and 4 ranks.</summary>
    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void The_torch_op_codecs_train_bit_identically_with_the_fused_codecs_wire_bytes(int ranks)
    {
        Combo[] combos =
        [
            new("int8", 2, 4, "mvue", "ring"),
            new("nm", 2, 4, "greedy", "ring"),
            new("nm+int8", 2, 4, "mvue", "allgather"),
            new("nm+int8", 1, 2, "mvue", "ring"),
        ];
        string[] feedbackAndOverlap = ["--set", "compression.error_feedback=true", "--set", "compression.overlap=true"];
        var torchOps = TrainEach(ranks, combos, ["--codec-implementation", "torch", .. feedbackAndOverlap]);
        var fused = TrainEach(ranks, combos, ["--codec-implementation", "fused", .. feedbackAndOverlap]);

        foreach (var (combo, (t, f)) in combos.Zip(torchOps.Zip(fused)))
        {
            // Sizes are fixed by the element counts, so equal whatever the random draws (each implementation has its own generator).
            Assert.Equal(f.GetProperty("bytes_sent_per_step").GetDouble(), t.GetProperty("bytes_sent_per_step").GetDouble());
            Assert.Equal(f.GetProperty("compression_ratio").GetDouble(), t.GetProperty("compression_ratio").GetDouble());
            Assert.True(double.IsFinite(t.GetProperty("test_loss").GetDouble()), $"{combo}: test loss");
        }
    }

    [Fact]
    public void A_non_finite_gradient_on_one_rank_makes_every_rank_skip_that_step()
    {
        using var dir = new TempDirectory();
        var run = dir.File("run");
        var result = Train(2, Spec(dir, "{ codec: nm+int8, algorithm: ring, min_compress_elements: 256 }"), run, "--inject-nan", "5:1");

        Assert.True(result.ExitCode == 0, result.ToString());
        var summary = Summary(run);
        Assert.Equal(1, summary.GetProperty("skipped_steps").GetInt64());
        Assert.Equal(16, summary.GetProperty("steps").GetInt64());
        Assert.Equal(15, summary.GetProperty("updates").GetInt64());
        Assert.True(double.IsFinite(summary.GetProperty("test_loss").GetDouble()), "no NaN reached the parameters");
    }

    [Fact]
    public void A_two_rank_run_resumed_from_a_checkpoint_continues_identically()
    {
        using var dir = new TempDirectory();
        var spec = Spec(dir, "{ codec: nm+int8, algorithm: ring, min_compress_elements: 256 }", epochs: 2, everySteps: 5);
        var full = dir.File("full");
        var interrupted = dir.File("interrupted");

        Assert.Equal(0, Train(2, spec, full).ExitCode);
        var first = Train(2, spec, interrupted, "--stop-after", "12");
        Assert.True(first.ExitCode == 0, first.ToString());
        var resumed = Train(2, spec, interrupted);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains("resumed from", resumed.Output);

        var (reference, referenceEvals) = MetricsLog.Read(Path.Combine(full, "metrics.jsonl"));
        var (continued, continuedEvals) = MetricsLog.Read(Path.Combine(interrupted, "metrics.jsonl"));
        Assert.Equal(32, reference.Count);
        Assert.Equal(reference.Select(s => (s.Step, s.Loss, s.Lr)), continued.Select(s => (s.Step, s.Loss, s.Lr)));
        Assert.Equal(referenceEvals.Select(e => e.TestLoss), continuedEvals.Select(e => e.TestLoss));
        Assert.Equal(10, Summary(interrupted).GetProperty("resumed_from_step").GetInt64());
    }

    [Fact]
    public void Error_feedback_keeps_parameters_bit_identical_and_its_residuals_survive_a_resume()
    {
        // The biased greedy pruner is where error feedback matters; its residuals differ on every rank.
        using var dir = new TempDirectory();
        var spec = Spec(dir, "{ codec: nm, pruner: greedy, algorithm: ring, error_feedback: true, min_compress_elements: 256 }", epochs: 2, everySteps: 5);
        var full = dir.File("full");
        var interrupted = dir.File("interrupted");

        var reference = Train(2, spec, full);
        Assert.True(reference.ExitCode == 0, reference.ToString()); // parameter hashes compared after every step
        var first = Train(2, spec, interrupted, "--stop-after", "12");
        Assert.True(first.ExitCode == 0, first.ToString());
        var resumed = Train(2, spec, interrupted);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains("resumed from", resumed.Output);
        Assert.DoesNotContain("restarts from zero residuals", resumed.Output);

        // Bit-exact only if every rank got its own residuals back from rank 0's checkpoint.
        var (steps, evaluations) = MetricsLog.Read(Path.Combine(full, "metrics.jsonl"));
        var (continued, continuedEvaluations) = MetricsLog.Read(Path.Combine(interrupted, "metrics.jsonl"));
        Assert.Equal(32, steps.Count);
        Assert.Equal(steps.Select(s => (s.Step, s.Loss)), continued.Select(s => (s.Step, s.Loss)));
        Assert.Equal(evaluations.Select(e => e.TestLoss), continuedEvaluations.Select(e => e.TestLoss));
    }

    [Fact]
    public void Warm_up_steps_travel_uncompressed_and_later_steps_compressed()
    {
        using var dir = new TempDirectory();
        var run = dir.File("run");
        var result = Train(2, Spec(dir, "{ codec: nm+int8, algorithm: ring, warmup_steps: 4, min_compress_elements: 256 }"), run);

        Assert.True(result.ExitCode == 0, result.ToString());
        var (steps, _) = MetricsLog.Read(Path.Combine(run, "metrics.jsonl"));
        Assert.Equal(16, steps.Count);
        // Records count steps from 1: the first four are the warm-up (steps 0-3 of the synchronizer).
        Assert.All(steps.Where(s => s.Step <= 4), s => Assert.Equal(1.0, s.CompressionRatio));
        Assert.All(steps.Where(s => s.Step > 4), s => Assert.True(s.CompressionRatio > 1.5, $"step {s.Step}: ratio {s.CompressionRatio}"));
    }

    [Fact]
    public void Parameters_that_diverge_on_one_worker_fail_the_job_loudly_not_a_hang()
    {
        using var dir = new TempDirectory();
        var run = dir.File("run");
        var result = MpiRunner.Run(2, TimeSpan.FromSeconds(90),
            ["train", Spec(dir, "{ codec: int8, algorithm: ring, min_compress_elements: 256 }"), "--out", run, "--verify-every", "2", "--perturb-at", "4:1"]);

        Assert.NotEqual(0, result.ExitCode);
        Assert.True(result.Elapsed < TimeSpan.FromSeconds(60), $"took {result.Elapsed}");
        // Nudged during step 4 (counted from 0), so the first check after it, at step 6, sees the difference.
        Assert.True(result.Output.Contains("parameters diverged across workers at step 6", StringComparison.Ordinal), result.ToString());
        Assert.False(File.Exists(Path.Combine(run, "summary.json")));
    }

    [Fact]
    public void A_worker_that_dies_ends_the_whole_job_with_an_error_not_a_hang()
    {
        using var dir = new TempDirectory();
        var result = MpiRunner.Run(2, TimeSpan.FromSeconds(90),
            ["train", Spec(dir, "{ codec: int8, algorithm: ring, min_compress_elements: 256 }"), "--out", dir.File("run"), "--die-at", "4:1"]);
        Assert.NotEqual(0, result.ExitCode);
        Assert.True(result.Elapsed < TimeSpan.FromSeconds(60), $"took {result.Elapsed}");
        Assert.False(File.Exists(Path.Combine(dir.File("run"), "summary.json")));
    }

    [Fact]
    public void A_batch_that_does_not_split_over_the_workers_is_a_clear_error()
    {
        using var dir = new TempDirectory();
        var spec = Spec(dir, "{ codec: none, algorithm: mpi }");
        var result = MpiRunner.Run(3, Limit, ["train", spec, "--out", dir.File("run")]);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("training.global_batch: 64 does not split evenly over the 3 workers", result.Output);
    }
}
