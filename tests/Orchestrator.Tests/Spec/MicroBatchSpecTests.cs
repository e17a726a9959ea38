using Orchestrator.Contracts.Models;
using Orchestrator.Spec;
using static Orchestrator.Tests.Spec.SpecTestHelpers;

namespace Orchestrator.Tests.Spec;

/// <summary><c>training.micro_batch</c> (gradient accumulation): its default, its rules against the batch sizes, the
/// memory estimate it lowers, and the worker counts a rescale may pick.</summary>
public class MicroBatchSpecTests
{
    [Fact]
    public void Unset_is_one_pass_and_a_written_value_round_trips()
    {
        Assert.Equal(0, Parse("name: demo").Training.MicroBatch);
        var written = Parse("name: demo\nworkers: 2\ntraining: { global_batch: 1024, micro_batch: 128 }");
        Assert.Equal(128, written.Training.MicroBatch);
        Assert.Equal(written, JobSpecLoader.Parse(JobSpecYaml.ToYaml(written), "again.yaml", []));
    }

    [Theory]
    [InlineData("training: { micro_batch: -1 }", "training.micro_batch: must be >= 1 (0 = the whole local batch in one pass) (line 2)")]
    [InlineData("workers: 2\ntraining: { global_batch: 256, micro_batch: 48 }",
        "training.micro_batch: 48 must divide the per-worker batch global_batch/workers = 128 (line 3)")]
    [InlineData("workers: 2\ntraining: { global_batch: 256, micro_batch: 256 }",
        "training.micro_batch: 256 must divide the per-worker batch global_batch/workers = 128 (line 3)")]
    [InlineData("model: { norm: ghost_batch }\ntraining: { global_batch: 256, ghost_batch: 32, micro_batch: 16 }",
        "training.micro_batch: 16 must be a multiple of training.ghost_batch (32): a ghost batch never spans two micro-batches (line 3)")]
    [InlineData("model: { norm: batch }\ntraining: { global_batch: 256, micro_batch: 1 }",
        "training.micro_batch: must give batch norm at least 2 rows per forward (micro_batch x batch_augmentation) (line 3)")]
    [InlineData("training: { micro_batch: many }", "training.micro_batch: expected an integer, got 'many' (line 2)")]
    [InlineData("training: { mirco_batch: 8 }", "training.mirco_batch: unknown field; did you mean 'micro_batch'? (line 2)")]
    public void Bad_values_are_reported_with_path_and_line(string body, string expected) =>
        Assert.Equal(expected, FailsOnce("name: demo\n" + body).ToString());

    [Fact]
    public void Batch_augmentation_copies_count_as_rows_for_batch_norm()
    {
        var spec = Parse("name: demo\ntraining: { global_batch: 256, micro_batch: 1, batch_augmentation: 2 }");
        Assert.Equal(1, spec.Training.MicroBatch);
    }

    [Fact]
    public void The_memory_estimate_counts_the_rows_of_one_pass()
    {
        var whole = Parse("name: demo\ntraining: { global_batch: 4096 }");
        var micro = Parse("name: demo\ntraining: { global_batch: 4096, micro_batch: 256 }");

        var a = MemoryEstimate.Of(whole);
        var b = MemoryEstimate.Of(micro);
        Assert.Equal(4096, a.RowsPerWorker);
        Assert.Equal(256, b.RowsPerWorker);
        Assert.Equal(a.ActivationBytes / 16.0, b.ActivationBytes, 0.01 * b.ActivationBytes);
        Assert.Equal(a.ModelBytes, b.ModelBytes);
    }

    [Theory]
    [InlineData(false, 2, 1, null)]   // keep_global_batch, fewer workers: 1024 per worker = 8 passes of 128
    [InlineData(false, 2, 8, null)]   // more workers: 128 per worker = one pass
    [InlineData(false, 2, 16, null)]  // 64 per worker, below micro_batch: one pass of 64
    [InlineData(true, 2, 3, null)]    // keep_worker_batch: 512 per worker whatever the count
    public void Rescales_keep_the_micro_batch_and_change_the_number_of_passes(bool keepWorkerBatch, int specWorkers, int workers, string? expected)
    {
        var rule = new WorkerCountRule(1024, 0, specWorkers, keepWorkerBatch, MicroBatch: 128);
        Assert.Equal(expected, rule.Reject(workers));
    }

    [Fact]
    public void A_count_whose_per_worker_batch_the_micro_batch_does_not_divide_is_refused()
    {
        var rule = new WorkerCountRule(768, 0, 2, false, MicroBatch: 128); // 384 per worker = 3 passes of 128
        Assert.Null(rule.Reject(2));
        Assert.Null(rule.Reject(3)); // 256 = 2 passes
        Assert.Equal("training.micro_batch: 128 must divide the per-worker batch 768/4 = 192", rule.Reject(4));
        var error = Assert.Throws<UserFacingException>(() => WorkerCountRule.ForWorkers(
            Parse("name: demo\nworkers: 2\ntraining: { global_batch: 768, micro_batch: 128 }"), 4));
        Assert.Contains("training.micro_batch: 128 must divide the per-worker batch 768/4 = 192", error.Message);
    }

    [Fact]
    public void The_rule_crosses_the_control_plane_with_its_micro_batch()
    {
        var rule = new WorkerCountRule(1024, 32, 2, true, MicroBatch: 128);
        var converter = new WorkerCountRuleConverter();
        Assert.Equal(rule, converter.ConvertFromSurrogate(converter.ConvertToSurrogate(rule)));
    }
}
