using Orchestrator.Spec;
using Orchestrator.Trainer.Data;

namespace Orchestrator.Tests.Data;

public sealed class EpochPlannerTests
{
    private static MixedSizeSpec Mixed(string mode) => new(Named.Mode(mode), [20, 28, 36], [0.3, 0.4, 0.3]);

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

    [Fact]
    public void A_one_row_remainder_is_folded_into_the_previous_step_when_batch_statistics_need_two_rows()
    {
        var plain = new EpochPlanner(257, 128, 1, MixedSizeSpec.Off, nativeSize: 28);
        Assert.Equal([128, 128, 1], plain.Plan(0).Select(s => s.Count));  // no constraint: as before

        var folded = new EpochPlanner(257, 128, 1, MixedSizeSpec.Off, nativeSize: 28, minimumRowsPerWorker: 2);
        Assert.Equal(2, folded.StepsPerEpoch);
        Assert.Equal([new PlannedStep(0, 128, 28, 1), new PlannedStep(128, 129, 28, 1)], folded.Plan(0));
    }

    [Theory]
    [InlineData(1000, 4, 1, false)] // remainder 104: every rank gets 26 rows
    [InlineData(903, 4, 1, true)]   // remainder 7: shares 2, 2, 2, 1
    [InlineData(904, 4, 1, false)]  // remainder 8: shares of 2
    [InlineData(903, 4, 2, false)]  // 2 copies: one sample per rank is already 2 rows
    [InlineData(897, 2, 1, true)]   // remainder 1: one rank would get nothing
    public void Only_a_remainder_that_leaves_some_rank_under_two_rows_is_folded_and_other_plans_are_unchanged(int samples, int workers, int copies, bool folds)
    {
        var plain = new EpochPlanner(samples, 128, 1, MixedSizeSpec.Off, nativeSize: 28, duplicates: copies);
        var guarded = new EpochPlanner(samples, 128, 1, MixedSizeSpec.Off, nativeSize: 28, duplicates: copies, workers: workers, minimumRowsPerWorker: 2);
        if (!folds)
        {
            Assert.Equal(plain.Plan(0), guarded.Plan(0));
            return;
        }
        Assert.Equal(plain.StepsPerEpoch - 1, guarded.StepsPerEpoch);
        Assert.Equal(plain.Plan(0).SkipLast(2), guarded.Plan(0).SkipLast(1));
        Assert.Equal(128 + samples % 128, guarded.Plan(0)[^1].Count);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void With_folding_every_rank_gets_two_rows_per_step_and_every_sample_is_trained_once(int workers)
    {
        // 3 x 64 + 2 x workers - 1 samples: the remainder is one short of two rows on every rank.
        int samples = 3 * 64 + 2 * workers - 1;
        var planner = new EpochPlanner(samples, 64, 5, MixedSizeSpec.Off, nativeSize: 28, workers: workers, minimumRowsPerWorker: 2);
        var samplers = Enumerable.Range(0, workers).Select(r => new ShardedSampler(samples, 64, 5, r, workers)).ToArray();
        for (int epoch = 0; epoch < 2; epoch++)
        {
            var seen = new List<long>();
            foreach (var step in planner.Plan(epoch))
                foreach (var sampler in samplers)
                {
                    var local = sampler.LocalBatch(epoch, step.Offset, step.Count);
                    Assert.True(local.Length >= 2, $"rank {sampler.Rank} got {local.Length} rows at offset {step.Offset}");
                    seen.AddRange(local);
                }
            Assert.Equal(Enumerable.Range(0, samples).Select(i => (long)i), seen.Order());
            Assert.Equal(3, planner.Plan(epoch).Count);
        }
    }

    [Theory]
    [InlineData("B+")]
    [InlineData("D+")]
    public void Mixed_sizes_fold_each_sizes_own_remainder_and_still_tile_the_epoch(string mode)
    {
        // Shares 65, 129, 64: size 28 (batch 64 in both modes) is left with 1 sample, and in D+ size 20 too.
        const int samples = 258, workers = 2;
        var sizes = new MixedSizeSpec(Named.Mode(mode), [20, 28, 36], [0.25, 0.5, 0.25]);
        var planner = new EpochPlanner(samples, 64, 3, sizes, nativeSize: 28, workers: workers, minimumRowsPerWorker: 2);
        var unguarded = new EpochPlanner(samples, 64, 3, sizes, nativeSize: 28);
        var plan = planner.Plan(1);
        Assert.Equal(samples, plan.Sum(s => s.Count));
        Assert.Equal(plan.Select(s => s.Offset), plan.Select((s, i) => plan.Take(i).Sum(p => (long)p.Count)));
        Assert.All(plan, s => Assert.True(s.Count / workers * s.Duplicates >= 2, $"{s}: a rank gets fewer than 2 rows"));
        Assert.Equal(unguarded.Plan(1).GroupBy(s => s.Size).Select(g => (g.Key, g.Sum(s => s.Count))).Order(),
            plan.GroupBy(s => s.Size).Select(g => (g.Key, g.Sum(s => s.Count))).Order());
        Assert.Contains(unguarded.Plan(1), s => s.Count / workers * s.Duplicates < 2);
        Assert.Equal(unguarded.StepsPerEpoch - (mode == "D+" ? 2 : 1), planner.StepsPerEpoch);
    }

    [Fact]
    public void A_step_at_a_resumed_offset_takes_a_too_small_rest_with_it()
    {
        // 224 samples were trained at batch 32; the run continues at batch 128 (whose own plan starts steps at 0, 128, 256)
        // with 129 left: one step of 129, not 128 + 1.
        var planner = new EpochPlanner(353, 128, 1, MixedSizeSpec.Off, nativeSize: 28, minimumRowsPerWorker: 2);
        Assert.DoesNotContain(planner.Plan(0), s => s.Offset == 224);
        Assert.Equal(new PlannedStep(224, 129, 28, 1), planner.StepAt(0, 224));
        var unguarded = new EpochPlanner(353, 128, 1, MixedSizeSpec.Off, nativeSize: 28);
        Assert.Equal(new PlannedStep(224, 128, 28, 1), unguarded.StepAt(0, 224));
    }

    [Fact]
    public void A_dataset_too_small_for_one_step_of_two_rows_per_rank_is_a_user_error_naming_the_field()
    {
        var error = Assert.Throws<UserFacingException>(() => new EpochPlanner(3, 128, 1, MixedSizeSpec.Off, nativeSize: 28, workers: 2, minimumRowsPerWorker: 2));
        Assert.Contains("data.train_subset", error.Message);
        var mixed = Assert.Throws<UserFacingException>(() => new EpochPlanner(100, 64, 1, new MixedSizeSpec(MixedSizeMode.BPlus, [20, 28], [0.99, 0.01]), nativeSize: 28,
            workers: 1, minimumRowsPerWorker: 2));
        Assert.Contains("training.mixed_size: size 28 gets 1 ", mixed.Message);
        _ = new EpochPlanner(3, 128, 1, MixedSizeSpec.Off, nativeSize: 28, workers: 2); // without batch statistics a tiny set still trains
    }
}
