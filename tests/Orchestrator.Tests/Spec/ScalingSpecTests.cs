using Orchestrator.Contracts.Models;
using Orchestrator.Spec;
using static Orchestrator.Tests.Spec.SpecTestHelpers;

namespace Orchestrator.Tests.Spec;

/// <summary>The <c>scaling</c> section and the <see cref="WorkerCountRule"/> that rescales and worker starts apply.</summary>
public class ScalingSpecTests
{
    [Fact]
    public void Absent_section_keeps_the_global_batch_and_the_section_round_trips()
    {
        var spec = Parse("name: demo");
        Assert.Null(spec.Scaling);
        Assert.False(spec.ScalingOrDefault.KeepsWorkerBatch);
        var written = Parse("name: demo\nscaling: { policy: keep_worker_batch }");
        Assert.True(written.ScalingOrDefault.KeepsWorkerBatch);
        Assert.Equal(written, JobSpecLoader.Parse(JobSpecYaml.ToYaml(written), "again.yaml", []));
    }

    [Theory]
    [InlineData("scaling: { policy: keep_everything }", "scaling.policy: must be one of keep_global_batch, keep_worker_batch; got 'keep_everything' (line 2)")]
    [InlineData("scaling: { polic: keep_worker_batch }", "scaling.polic: unknown field; did you mean 'policy'? (line 2)")]
    public void Bad_values_are_reported_with_path_and_line(string body, string expected) =>
        Assert.Equal(expected, FailsOnce("name: demo\n" + body).ToString());

    [Fact]
    public void A_node_loss_restarts_at_full_size_unless_the_spec_opts_into_shrinking_down_to_min_workers()
    {
        Assert.Null(Parse("name: demo\nworkers: 4").ScalingOrDefault.ShrinkFloor);
        var written = Parse("name: demo\nworkers: 4\ntraining: { global_batch: 96 }\nscaling: { on_node_loss: shrink, min_workers: 2 }");
        Assert.Equal(new ScalingSpec(ScalingPolicy.KeepGlobalBatch, NodeLossPolicy.Shrink, 2), written.Scaling);
        Assert.Equal(2, written.ScalingOrDefault.ShrinkFloor);
        Assert.Equal(written, JobSpecLoader.Parse(JobSpecYaml.ToYaml(written), "again.yaml", []));
        Assert.Equal(2, JobSubmission.ForSpec(written, "").ShrinkFloor);
        Assert.Null(JobSubmission.ForSpec(Parse("name: demo"), "").ShrinkFloor);
    }

    [Theory]
    [InlineData("workers: 2\nscaling: { on_node_loss: grow }", "scaling.on_node_loss: must be one of restart, shrink; got 'grow' (line 3)")]
    [InlineData("workers: 2\nscaling: { on_node_loss: shrink, min_workers: 0 }", "scaling.min_workers: must be >= 1 and <= workers (2) (line 3)")]
    [InlineData("workers: 2\nscaling: { on_node_loss: shrink, min_workers: 3 }", "scaling.min_workers: must be >= 1 and <= workers (2) (line 3)")]
    [InlineData("workers: 2\nscaling: { min_workers: 2 }", "scaling.min_workers: applies only with on_node_loss: shrink (a restart keeps the job's 2 workers) (line 3)")]
    public void Bad_node_loss_settings_are_reported_with_path_and_line(string body, string expected) =>
        Assert.Equal(expected, FailsOnce("name: demo\n" + body).ToString());

    [Fact]
    public void Shrinking_cannot_be_combined_with_a_B_plus_mixed_size_plan()
    {
        var error = FailsOnce("name: demo\nworkers: 2\nmodel: { kind: resnet20, norm: ghost_batch }\ndata: { dataset: synthetic }\nscaling: { on_node_loss: shrink }\n" +
            "training: { ghost_batch: 16, mixed_size: { mode: B+, sizes: [20, 28], probabilities: [0.5, 0.5] } }");
        Assert.Equal("scaling.on_node_loss", error.Path);
        Assert.Contains("cannot be combined with training.mixed_size mode B+", error.Message);
    }

    [Fact]
    public void Placement_defaults_to_pack_without_a_per_node_limit_and_round_trips()
    {
        Assert.Equal(PlacementSpec.Default, Parse("name: demo").PlacementOrDefault);
        Assert.Equal((0, PlacementPolicy.Pack), (PlacementSpec.Default.RanksPerNode, PlacementSpec.Default.Policy));
        var written = Parse("name: demo\nplacement: { ranks_per_node: 2, policy: spread }");
        Assert.Equal(new PlacementSpec(2, PlacementPolicy.Spread), written.Placement);
        Assert.Equal(written, JobSpecLoader.Parse(JobSpecYaml.ToYaml(written), "again.yaml", []));
        Assert.Equal(new PlacementSpec(4, PlacementPolicy.Pack), Parse("name: demo", "placement.ranks_per_node=4").Placement);
    }

    [Theory]
    [InlineData("placement: { policy: scatter }", "placement.policy: must be one of pack, spread; got 'scatter' (line 2)")]
    [InlineData("placement: { ranks_per_node: -1 }", "placement.ranks_per_node: must be 0 (as many as a node's free slots) or 1..256 (line 2)")]
    [InlineData("placement: { ranks_per_node: 300 }", "placement.ranks_per_node: must be 0 (as many as a node's free slots) or 1..256 (line 2)")]
    [InlineData("placement: { ranks_pernode: 2 }", "placement.ranks_pernode: unknown field; did you mean 'ranks_per_node'? (line 2)")]
    public void Bad_placement_values_are_reported_with_path_and_line(string body, string expected) =>
        Assert.Equal(expected, FailsOnce("name: demo\n" + body).ToString());

    [Fact]
    public void Keep_worker_batch_cannot_be_combined_with_mixed_sizes()
    {
        var error = FailsOnce("name: demo\nmodel: { kind: resnet20 }\ndata: { dataset: synthetic }\nscaling: { policy: keep_worker_batch }\n" +
            "training: { mixed_size: { mode: D+, sizes: [20, 28], probabilities: [0.5, 0.5] } }");
        Assert.Equal("scaling.policy", error.Path);
        Assert.Contains("cannot be combined with training.mixed_size", error.Message);
    }

    [Theory]
    [InlineData(false, 256, 0, 2, 1, 256)]
    [InlineData(false, 256, 0, 2, 4, 256)]
    [InlineData(true, 256, 0, 2, 1, 128)]
    [InlineData(true, 256, 0, 2, 4, 512)]
    [InlineData(true, 96, 16, 2, 3, 144)]
    public void The_global_batch_follows_the_policy(bool keepWorkerBatch, int batch, int ghost, int specWorkers, int workers, long expected)
    {
        var rule = new WorkerCountRule(batch, ghost, specWorkers, keepWorkerBatch);
        Assert.Null(rule.Reject(workers));
        Assert.Equal(expected, rule.GlobalBatchFor(workers));
    }

    [Theory]
    [InlineData(false, 64, 0, 2, 0, "workers: must be at least 1, got 0")]
    [InlineData(false, 64, 0, 2, 3, "training.global_batch: 64 does not split evenly over the 3 workers")]
    [InlineData(false, 64, 16, 2, 8, "training.ghost_batch: 16 must divide the per-worker batch 64/8 = 8")]
    [InlineData(true, 64, 0, 2, 2000, "workers: must be at most 1024, got 2000")]
    public void Counts_the_batch_cannot_use_are_refused_with_the_field(bool keepWorkerBatch, int batch, int ghost, int specWorkers, int workers, string expected) =>
        Assert.StartsWith(expected, new WorkerCountRule(batch, ghost, specWorkers, keepWorkerBatch).Reject(workers));

    [Fact]
    public void A_B_plus_mixed_size_plan_runs_on_its_own_worker_count_only()
    {
        var rule = new WorkerCountRule(256, 0, 2, false, PlanNeedsSpecWorkers: true);
        Assert.Null(rule.Reject(2));
        Assert.Contains("runs on its 2 workers only, not 4", rule.Reject(4));
    }

    [Fact]
    public void ForWorkers_gives_the_spec_as_it_runs_or_a_user_error()
    {
        var spec = Parse("name: demo\nworkers: 2\ntraining: { global_batch: 64 }\nscaling: { policy: keep_worker_batch }");
        var single = WorkerCountRule.ForWorkers(spec, 1);
        Assert.Equal((1, 32), (single.Workers, single.Training.GlobalBatch));
        var fixedBatch = Parse("name: demo\nworkers: 2\ntraining: { global_batch: 64 }");
        var error = Assert.Throws<UserFacingException>(() => WorkerCountRule.ForWorkers(fixedBatch, 3));
        Assert.Contains("training.global_batch: 64 does not split evenly over the 3 workers", error.Message);
        Assert.Contains("scaling.policy: keep_global_batch", error.Message);
    }
}
