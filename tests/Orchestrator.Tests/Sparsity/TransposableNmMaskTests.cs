using CsCheck;
using Orchestrator.Trainer.Sparsity;

namespace Orchestrator.Tests.Sparsity;

public sealed class TransposableNmMaskTests
{
    private const float Tolerance = 1e-4f;

    public static TheoryData<int, int, TransposableMaskMethod> Patterns()
    {
        var data = new TheoryData<int, int, TransposableMaskMethod>();
        foreach (var method in new[] { TransposableMaskMethod.Greedy, TransposableMaskMethod.Optimal })
            foreach (var (n, m) in new[] { (1, 4), (2, 4), (1, 8), (2, 8), (4, 8) })
                data.Add(n, m, method);
        return data;
    }

    [Theory]
    [MemberData(nameof(Patterns))]
    public void RandomBlocksGetExactlyNPerRowAndColumn(int n, int m, TransposableMaskMethod method)
    {
        for (int seed = 0; seed < 200; seed++)
        {
            var block = SparsityTestData.Weights(m * m, seed);
            var mask = TransposableNmMask.ComputeBlock(block, n, m, method);
            var (rows, cols) = SparsityTestData.BlockCounts(mask, m, 0, 0, m);
            Assert.All(rows, c => Assert.Equal(n, c));
            Assert.All(cols, c => Assert.Equal(n, c));
            Assert.True(MaskChecks.IsValidTransposable(mask, m, m, n, m));
        }
    }

    [Fact]
    public void RandomMatricesGetExactlyNPerRowAndColumnOfEveryBlock()
    {
        // Shapes and patterns drawn by CsCheck: M in {4, 8}, N in {1, 2, M/2}, 1..4 blocks each way, both methods.
        var cases = Gen.Select(Gen.OneOf(Gen.Const(4), Gen.Const(8)), Gen.Int[0, 2], Gen.Int[1, 4], Gen.Int[1, 4], Gen.Bool, Gen.Int);
        cases.Sample((m, nPick, br, bc, optimal, seed) =>
        {
            int n = nPick switch { 0 => 1, 1 => 2, _ => m / 2 };
            int rows = br * m, cols = bc * m;
            var w = SparsityTestData.Weights(rows * cols, seed);
            var method = optimal ? TransposableMaskMethod.Optimal : TransposableMaskMethod.Greedy;
            var mask = TransposableNmMask.Compute(w, rows, cols, n, m, method);
            for (int r0 = 0; r0 < rows; r0 += m)
                for (int c0 = 0; c0 < cols; c0 += m)
                {
                    var (rc, cc) = SparsityTestData.BlockCounts(mask, cols, r0, c0, m);
                    if (rc.Any(c => c != n) || cc.Any(c => c != n)) return false;
                }
            // Tiling: each block's mask is the block computed on its own.
            var first = new float[m * m];
            for (int i = 0; i < m; i++) Array.Copy(w, i * cols, first, i * m, m);
            var alone = TransposableNmMask.ComputeBlock(first, n, m, method);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < m; j++)
                    if (alone[i * m + j] != mask[i * cols + j]) return false;
            return MaskChecks.IsValidTransposable(mask, rows, cols, n, m) && Math.Abs(MaskChecks.Density(mask) - (double)n / m) < 1e-12;
        }, iter: 150, threads: 1);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void OptimalEqualsBruteForceOverAllValidMasksOfRandom4x4Blocks(int n)
    {
        var all = MaskDiversity.AllTransposable(n, 4);
        for (int seed = 0; seed < 500; seed++)
        {
            var block = SparsityTestData.Weights(16, 1000 + seed);
            double best = all.Max(mask => MaskChecks.KeptMagnitude(block, mask));
            var optimal = TransposableNmMask.ComputeBlock(block, n, 4, TransposableMaskMethod.Optimal);
            Assert.True(MaskChecks.IsValidTransposable(optimal, 4, 4, n, 4));
            Assert.Equal(best, MaskChecks.KeptMagnitude(block, optimal), Tolerance);
        }
    }

    [Fact]
    public void OptimalIsAtLeastAsGoodAsGreedyOn8x8Blocks()
    {
        for (int seed = 0; seed < 200; seed++)
        {
            var block = SparsityTestData.Weights(64, 5000 + seed);
            double optimal = MaskChecks.KeptMagnitude(block, TransposableNmMask.ComputeBlock(block, 4, 8, TransposableMaskMethod.Optimal));
            double greedy = MaskChecks.KeptMagnitude(block, TransposableNmMask.ComputeBlock(block, 4, 8, TransposableMaskMethod.Greedy));
            Assert.True(optimal >= greedy - Tolerance, $"seed {seed}: optimal {optimal} < greedy {greedy}");
            Assert.True(greedy >= optimal / 2, $"seed {seed}: greedy {greedy} < optimal/2 {optimal / 2}");
        }
    }

    [Fact]
    public void GreedyKeepsAtLeastHalfTheOptimumAndIsSometimesStrictlyWorse()
    {
        var all = MaskDiversity.AllTransposable(2, 4);
        int strictlyWorse = 0;
        for (int seed = 0; seed < 500; seed++)
        {
            var block = SparsityTestData.Weights(16, 1000 + seed);
            double best = all.Max(mask => MaskChecks.KeptMagnitude(block, mask));
            var greedy = TransposableNmMask.ComputeBlock(block, 2, 4, TransposableMaskMethod.Greedy);
            double kept = MaskChecks.KeptMagnitude(block, greedy);
            Assert.True(kept >= best / 2, $"seed {seed}: greedy {kept} < optimum/2 {best / 2}");
            if (kept < best - Tolerance) strictlyWorse++;
        }
        // An approximation: among 500 random blocks it must miss the optimum somewhere (and it does, often).
        Assert.True(strictlyWorse > 0, "greedy matched the optimum on every random block");
    }

    [Fact]
    public void GreedyIsStrictlyBelowOptimalOnTheClassic1Of2Case()
    {
        // Greedy takes the 1.0 first, which forces the 0 on the diagonal: 1.0 kept; the optimum keeps 0.9 + 0.9 = 1.8.
        float[] block = [1.0f, 0.9f, 0.9f, 0.0f];
        var greedy = TransposableNmMask.ComputeBlock(block, 1, 2, TransposableMaskMethod.Greedy);
        var optimal = TransposableNmMask.ComputeBlock(block, 1, 2, TransposableMaskMethod.Optimal);
        Assert.Equal([true, false, false, true], greedy);
        Assert.Equal([false, true, true, false], optimal);
        Assert.Equal(1.0, MaskChecks.KeptMagnitude(block, greedy), Tolerance);
        Assert.Equal(1.8, MaskChecks.KeptMagnitude(block, optimal), Tolerance);
    }

    [Fact]
    public void GreedyRepairsABlockWhereThePassEndsShort()
    {
        // 2:4: the heavy (3, 3) first, then a 2-regular pattern on rows/columns 0..2 fills them; every remaining (i, 3) and
        // (3, j) is refused, so the pass leaves row 3 and column 3 with one each. The repair must still give a valid mask.
        var block = new float[16];
        for (int k = 0; k < 16; k++) block[k] = 0.01f * (k + 1);
        block[3 * 4 + 3] = 100f;
        foreach (var (i, j) in new[] { (0, 0), (0, 1), (1, 1), (1, 2), (2, 2), (2, 0) }) block[i * 4 + j] = 50f - i - 0.1f * j;
        var greedy = TransposableNmMask.ComputeBlock(block, 2, 4, TransposableMaskMethod.Greedy);
        Assert.True(MaskChecks.IsValidTransposable(greedy, 4, 4, 2, 4));
        Assert.True(greedy[15], "the heaviest entry is kept");
        var all = MaskDiversity.AllTransposable(2, 4);
        double best = all.Max(mask => MaskChecks.KeptMagnitude(block, mask));
        Assert.True(MaskChecks.KeptMagnitude(block, greedy) >= best / 2);
        Assert.Equal(best, MaskChecks.KeptMagnitude(block, TransposableNmMask.ComputeBlock(block, 2, 4, TransposableMaskMethod.Optimal)), Tolerance);
    }

    [Theory]
    [InlineData(2, 4, TransposableMaskMethod.Greedy)]
    [InlineData(2, 4, TransposableMaskMethod.Optimal)]
    [InlineData(4, 8, TransposableMaskMethod.Greedy)]
    [InlineData(4, 8, TransposableMaskMethod.Optimal)]
    [InlineData(1, 8, TransposableMaskMethod.Optimal)]
    public void ABlockWhoseRowTopNIsAlreadyTransposableIsKeptExactly(int n, int m, TransposableMaskMethod method)
    {
        // Circulant pattern: row i's N largest sit in columns i, i+1, ..., i+N-1 (mod M), which is transposable already.
        var rng = new Random(n * 100 + m);
        var block = new float[m * m];
        var expected = new bool[m * m];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < m; j++)
            {
                bool big = (j - i + m) % m < n;
                float sign = rng.Next(2) == 0 ? -1f : 1f;
                block[i * m + j] = sign * (big ? 10f + (float)rng.NextDouble() : (float)rng.NextDouble());
                expected[i * m + j] = big;
            }
        Assert.Equal(expected, TransposableNmMask.ComputeBlock(block, n, m, method));
        // The plain N:M mask picks the same entries here: the transposable constraint costs nothing on this block.
        Assert.Equal(expected, NmMask.Compute(block, m, m, n, m));
    }

    [Theory]
    [InlineData(2, 4, TransposableMaskMethod.Greedy, 1f)]
    [InlineData(2, 4, TransposableMaskMethod.Optimal, 1f)]
    [InlineData(4, 8, TransposableMaskMethod.Greedy, -0.5f)]
    [InlineData(4, 8, TransposableMaskMethod.Optimal, -0.5f)]
    [InlineData(3, 8, TransposableMaskMethod.Optimal, 0f)]
    [InlineData(3, 8, TransposableMaskMethod.Greedy, 0f)]
    public void AllEqualMagnitudesGiveAValidMaskDeterministically(int n, int m, TransposableMaskMethod method, float value)
    {
        var w = Enumerable.Repeat(value, 2 * m * 3 * m).ToArray();
        var first = TransposableNmMask.Compute(w, 2 * m, 3 * m, n, m, method);
        var second = TransposableNmMask.Compute(w, 2 * m, 3 * m, n, m, method);
        Assert.True(MaskChecks.IsValidTransposable(first, 2 * m, 3 * m, n, m));
        Assert.Equal(first, second);
    }
}
