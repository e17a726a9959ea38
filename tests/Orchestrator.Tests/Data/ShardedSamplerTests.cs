using Orchestrator.Trainer.Data;

namespace Orchestrator.Tests.Data;

public class ShardedSamplerTests
{
    /// <summary>Every rank's indices of every step of one epoch, in step order, starting at <paramref name="offset"/>.</summary>
    private static List<long[]>[] RunEpoch(int n, int batch, long seed, int worldSize, int epoch, long offset = 0)
    {
        var samplers = Enumerable.Range(0, worldSize).Select(r => new ShardedSampler(n, batch, seed, r, worldSize)).ToArray();
        var perRank = samplers.Select(_ => new List<long[]>()).ToArray();
        int e = epoch;
        long o = offset;
        while (e == epoch)
        {
            for (int r = 0; r < worldSize; r++) perRank[r].Add(samplers[r].LocalBatch(e, o));
            var next = samplers[0].Advance(e, o);
            for (int r = 1; r < worldSize; r++) Assert.Equal(next, samplers[r].Advance(e, o));
            (e, o) = next;
        }
        Assert.Equal((epoch + 1, 0L), (e, o));
        return perRank;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(7)]
    public void EverySampleExactlyOncePerEpoch(int worldSize)
    {
        const int n = 103, batch = 16;
        for (int epoch = 0; epoch < 3; epoch++)
        {
            var perRank = RunEpoch(n, batch, seed: 42, worldSize, epoch);
            Assert.All(perRank, steps => Assert.Equal(7, steps.Count)); // ceil(103 / 16)
            var all = perRank.SelectMany(steps => steps.SelectMany(b => b)).ToList();
            Assert.Equal(n, all.Count);
            Assert.Equal(Enumerable.Range(0, n).Select(i => (long)i), all.Order());
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    public void RanksAreDisjointAndSplitEvenly(int worldSize)
    {
        const int n = 50, batch = 12;
        var perRank = RunEpoch(n, batch, seed: 1, worldSize, epoch: 0);
        var sets = perRank.Select(steps => steps.SelectMany(b => b).ToHashSet()).ToArray();
        for (int a = 0; a < worldSize; a++)
            for (int b = a + 1; b < worldSize; b++)
                Assert.Empty(sets[a].Intersect(sets[b]));

        for (int step = 0; step < perRank[0].Count; step++)
        {
            var sizes = perRank.Select(steps => steps[step].Length).ToArray();
            int total = sizes.Sum();
            Assert.Equal(step < 4 ? batch : n - 4 * batch, total);
            // As even as possible, extras on the first ranks.
            for (int r = 0; r < worldSize; r++)
                Assert.Equal(total / worldSize + (r < total % worldSize ? 1 : 0), sizes[r]);
        }
    }

    [Fact]
    public void RankSlicesConcatenateToTheGlobalBatch()
    {
        var single = new ShardedSampler(40, 10, seed: 3);
        var ranks = Enumerable.Range(0, 3).Select(r => new ShardedSampler(40, 10, seed: 3, r, 3)).ToArray();
        for (long offset = 0; offset < 40; offset += 10)
            Assert.Equal(single.LocalBatch(2, offset), ranks.SelectMany(s => s.LocalBatch(2, offset)));
    }

    [Fact]
    public void StepsAndBatchSizes()
    {
        var s = new ShardedSampler(100, 32, seed: 0);
        Assert.Equal(4, s.StepsPerEpoch);
        Assert.Equal(32, s.GlobalBatchSizeAt(0));
        Assert.Equal(32, s.GlobalBatchSizeAt(64));
        Assert.Equal(4, s.GlobalBatchSizeAt(96));
        Assert.Equal((0, 32L), s.Advance(0, 0));
        Assert.Equal((1, 0L), s.Advance(0, 96));
        Assert.Equal(1, new ShardedSampler(100, 100, 0).StepsPerEpoch);
        Assert.Equal(1, new ShardedSampler(5, 100, 0).StepsPerEpoch);
        Assert.Throws<ArgumentOutOfRangeException>(() => s.GlobalBatchSizeAt(100));
        Assert.Throws<ArgumentOutOfRangeException>(() => s.LocalBatch(0, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ShardedSampler(10, 2, 0, rank: 2, worldSize: 2));
    }

    [Fact]
    public void PermutationReproducibleAndDiffersBetweenEpochsAndSeeds()
    {
        var a = new ShardedSampler(1000, 10, seed: 123);
        var b = new ShardedSampler(1000, 10, seed: 123);
        var other = new ShardedSampler(1000, 10, seed: 124);
        var a0 = a.Permutation(0).ToArray();
        var a1 = a.Permutation(1).ToArray();
        Assert.Equal(a0, b.Permutation(0).ToArray());
        Assert.Equal(a1, b.Permutation(1).ToArray());
        Assert.Equal(a0, a.Permutation(0).ToArray()); // recomputed after the cache moved to epoch 1
        Assert.NotEqual(a0, a1);
        Assert.NotEqual(a0, other.Permutation(0).ToArray());
        Assert.NotEqual(Enumerable.Range(0, 1000), a0);
    }

    /// <summary>
    /// Pins permutations to values computed by an independent (Python) SplitMix64 + Fisher-Yates, so a change to
    /// the generator, which would silently change what resumed checkpoints train on, is noticed.
    /// </summary>
    [Fact]
    public void PermutationIsStableAcrossReleases()
    {
        Assert.Equal([2, 8, 9, 0, 7, 6, 1, 4, 5, 3], new ShardedSampler(10, 10, seed: 2024).Permutation(0).ToArray());
        Assert.Equal([3, 0, 18, 4, 19, 9, 10, 16, 2, 7, 11, 12, 13, 6, 14, 15, 1, 5, 8, 17],
            new ShardedSampler(20, 4, seed: -7).Permutation(3).ToArray());
    }

    [Fact]
    public void ResumingMidEpochGivesTheSameContinuation()
    {
        const int n = 97, batch = 8;
        var full = RunEpoch(n, batch, seed: 5, worldSize: 3, epoch: 4);
        var resumed = RunEpoch(n, batch, seed: 5, worldSize: 3, epoch: 4, offset: 5 * batch);
        for (int r = 0; r < 3; r++)
            Assert.Equal(full[r].Skip(5), resumed[r]);
    }

    [Fact]
    public void RescalingMidEpochStillCoversEverySampleOnce()
    {
        const int n = 101, batch = 12;
        const long switchAt = 4 * batch;
        var before = Enumerable.Range(0, 2).Select(r => new ShardedSampler(n, batch, seed: 9, r, 2)).ToArray();
        var seen = new List<long>();
        for (long o = 0; o < switchAt; o = before[0].Advance(1, o).Offset)
            foreach (var s in before) seen.AddRange(s.LocalBatch(1, o));

        var after = RunEpoch(n, batch, seed: 9, worldSize: 3, epoch: 1, offset: switchAt);
        seen.AddRange(after.SelectMany(steps => steps.SelectMany(b => b)));

        Assert.Equal(Enumerable.Range(0, n).Select(i => (long)i), seen.Order());
    }

    [Fact]
    public void LastBatchSmallerThanWorldLeavesSomeRanksEmpty()
    {
        var ranks = Enumerable.Range(0, 4).Select(r => new ShardedSampler(10, 8, seed: 0, r, 4)).ToArray();
        var sizes = ranks.Select(s => s.LocalBatch(0, 8).Length).ToArray();
        Assert.Equal([1, 1, 0, 0], sizes);
    }
}
