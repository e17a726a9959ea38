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

    public static TheoryData<int, string, string> Matrix => new()
    {
        { 2, "none", "mpi" },
        { 2, "none", "ring" },
        { 2, "int8", "ring" },
        { 2, "int8", "allgather" },
        { 2, "nm", "ring" },
        { 2, "nm", "allgather" },
        { 2, "nm+int8", "ring" },
        { 2, "nm+int8", "allgather" },
        { 4, "none", "mpi" },
        { 4, "nm+int8", "ring" },
        { 4, "int8", "allgather" },
    };

    [Theory]
    [MemberData(nameof(Matrix))]
    public void Every_codec_and_algorithm_keeps_parameters_bit_identical(int ranks, string codec, string algorithm)
    {
        using var dir = new TempDirectory();
        var spec = Spec(dir, $"{{ codec: {codec}, n: 2, m: 4, algorithm: {algorithm}, min_compress_elements: 256 }}");
        var run = dir.File("run");
        var result = Train(ranks, spec, run);

        Assert.True(result.ExitCode == 0, result.ToString());
        var summary = Summary(run);
        Assert.Equal(ranks, summary.GetProperty("workers").GetInt32());
        Assert.Equal(16, summary.GetProperty("steps").GetInt64());
        Assert.True(double.IsFinite(summary.GetProperty("test_loss").GetDouble()));
        Assert.True(summary.GetProperty("bytes_sent_per_step").GetDouble() > 0);
        double ratio = summary.GetProperty("compression_ratio").GetDouble();
        if (codec == "none") Assert.Equal(1.0, ratio);
        else Assert.True(ratio > 1.5, $"compression ratio {ratio}");
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
        Assert.Contains("parameters diverged across workers at step 6", result.Output);
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
