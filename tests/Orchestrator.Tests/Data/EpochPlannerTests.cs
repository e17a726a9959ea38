using Orchestrator.Contracts.Spec;
using Orchestrator.Trainer.Data;

namespace Orchestrator.Tests.Data;

public sealed class EpochPlannerTests
{
    private static MixedSizeSpec Mixed(string mode) => new(mode, [20, 28, 36], [0.3, 0.4, 0.3]);

    [Fact]
    public void Off_mode_is_the_uniform_global_batch_plan()
    {
        var planner = new EpochPlanner(1000, 128, 1, MixedSizeSpec.Off, nativeSize: 28, duplicates: 2);
        var plan = planner.Plan(0);
        Assert.Equal(8, planner.StepsPerEpoch);
        Assert.Equal(Enumerable.Range(0, 8).Select(i => (long)i * 128), plan.Select(s => s.Offset));
        Assert.Equal(1000 - 7 * 128, plan[^1].Count);
        Assert.All(plan, s => Assert.Equal((28, 2), (s.Size, s.Duplicates)));
    }

    [Theory]
    [InlineData("B+")]
    [InlineData("D+")]
    public void Each_size_sees_exactly_its_fraction_and_steps_tile_the_epoch(string mode)
    {
        var planner = new EpochPlanner(10_007, 256, 3, Mixed(mode), nativeSize: 28, duplicates: 4, batchMultiple: 32);
        for (int epoch = 0; epoch < 3; epoch++)
        {
            var plan = planner.Plan(epoch);
            Assert.Equal(planner.StepsPerEpoch, plan.Count);
            long expectedOffset = 0;
            foreach (var step in plan)
            {
                Assert.Equal(expectedOffset, step.Offset);
                expectedOffset += step.Count;
            }
            Assert.Equal(10_007, expectedOffset);
            var perSize = plan.GroupBy(s => s.Size).ToDictionary(g => g.Key, g => g.Sum(s => s.Count));
            Assert.Equal(EpochPlanner.ExactShares([0.3, 0.4, 0.3], 10_007), new[] { perSize[20], perSize[28], perSize[36] });
            Assert.Equal(10_007, perSize.Values.Sum());
            Assert.Equal([3002, 4003, 3002], new[] { perSize[20], perSize[28], perSize[36] });
        }
    }

    [Fact]
    public void B_plus_scales_the_batch_by_base_over_size_squared_in_whole_ghost_batches()
    {
        var planner = new EpochPlanner(10_000, 256, 3, Mixed("B+"), nativeSize: 28, duplicates: 1, batchMultiple: 32);
        var bySize = planner.Sizes.ToDictionary(s => s.Size);
        Assert.Equal(512, bySize[20].Batch);   // 256 * (28/20)^2 = 501.8 -> nearest multiple of 32
        Assert.Equal(256, bySize[28].Batch);
        Assert.Equal(160, bySize[36].Batch);   // 256 * (28/36)^2 = 154.9 -> 160
        Assert.All(planner.Sizes, s => Assert.Equal(1, s.Duplicates));
    }

    [Fact]
    public void D_plus_keeps_the_batch_and_scales_the_copies_at_least_one()
    {
        var planner = new EpochPlanner(10_000, 256, 3, Mixed("D+"), nativeSize: 28, duplicates: 4);
        var bySize = planner.Sizes.ToDictionary(s => s.Size);
        Assert.Equal(8, bySize[20].Duplicates);  // 4 * 1.96 = 7.84
        Assert.Equal(4, bySize[28].Duplicates);
        Assert.Equal(2, bySize[36].Duplicates);  // 4 * 0.605 = 2.42
        Assert.All(planner.Sizes, s => Assert.Equal(256, s.Batch));
        var single = new EpochPlanner(10_000, 256, 3, Mixed("D+"), nativeSize: 28, duplicates: 1);
        Assert.Equal(1, single.Sizes.Single(s => s.Size == 36).Duplicates);
    }

    [Fact]
    public void The_interleaving_is_seeded_by_epoch_and_reproducible()
    {
        var a = new EpochPlanner(5000, 128, 9, Mixed("B+"), 28);
        var b = new EpochPlanner(5000, 128, 9, Mixed("B+"), 28);
        var sizes0 = a.Plan(0).Select(s => s.Size).ToArray();
        var sizes1 = a.Plan(1).Select(s => s.Size).ToArray();
        Assert.Equal(sizes0, b.Plan(0).Select(s => s.Size));
        Assert.NotEqual(sizes0, sizes1);
        Assert.True(sizes0.Distinct().Count() == 3 && sizes0.Zip(sizes0.Skip(1)).Any(p => p.First != p.Second));
    }

    [Fact]
    public void StepAt_finds_every_step_and_rejects_mid_step_offsets()
    {
        var planner = new EpochPlanner(5000, 128, 9, Mixed("B+"), 28);
        foreach (var step in planner.Plan(2))
            Assert.Equal(step, planner.StepAt(2, step.Offset));
        Assert.Throws<ArgumentOutOfRangeException>(() => planner.StepAt(2, planner.Plan(2)[1].Offset + 1));
    }

    [Fact]
    public void Exact_shares_always_sum_to_the_total()
    {
        Assert.Equal([1, 1, 1], EpochPlanner.ExactShares([1 / 3.0, 1 / 3.0, 1 / 3.0], 3));
        Assert.Equal(7, EpochPlanner.ExactShares([0.5, 0.25, 0.25], 7).Sum());
        Assert.Equal([3, 2, 2], EpochPlanner.ExactShares([0.5, 0.25, 0.25], 7));
    }

    [Fact]
    public void Without_mixed_sizes_any_offset_starts_a_step_so_a_run_can_change_its_batch_mid_epoch()
    {
        // 96 samples were trained at batch 32 (3 steps); the run continues at batch 64.
        var planner = new EpochPlanner(1000, 64, 1, MixedSizeSpec.Off, nativeSize: 28);
        Assert.Equal(new PlannedStep(96, 64, 28, 1), planner.StepAt(0, 96));
        Assert.Equal(2, planner.IndexAt(0, 96)); // the regime continues at ceil(96/64) = 2 of this batch's 16 steps
        Assert.Equal(new PlannedStep(992, 8, 28, 1), planner.StepAt(0, 992));
        Assert.Equal(3, planner.IndexAt(0, 192)); // aligned offsets are the plan's own steps
        Assert.Throws<ArgumentOutOfRangeException>(() => planner.StepAt(0, 1000));
        var mixed = new EpochPlanner(1000, 64, 1, Mixed("D+"), nativeSize: 28);
        Assert.Throws<ArgumentOutOfRangeException>(() => mixed.StepAt(0, 1)); // mixed plans are fixed per batch
    }
}
