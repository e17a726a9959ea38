using Orchestrator.Trainer.Sparsity;

namespace Orchestrator.Tests.Sparsity;

public sealed class NmMaskTests
{
    [Theory]
    [InlineData(1, 4)]
    [InlineData(2, 4)]
    [InlineData(1, 8)]
    [InlineData(2, 8)]
    [InlineData(4, 8)]
    public void KeepsExactlyTheTopNOfEveryGroup(int n, int m)
    {
        const int rows = 6, cols = 5 * 8;
        var w = SparsityTestData.Weights(rows * cols, n * 31 + m);
        var mask = NmMask.Compute(w, rows, cols, n, m);
        Assert.True(MaskChecks.IsValidNm(mask, rows, cols, n, m));
        Assert.Equal((double)n / m, MaskChecks.Density(mask), 12);
        for (int g = 0; g < w.Length; g += m)
        {
            var top = Enumerable.Range(g, m).OrderByDescending(i => Math.Abs(w[i])).ThenBy(i => i).Take(n).ToHashSet();
            for (int i = g; i < g + m; i++) Assert.Equal(top.Contains(i), mask[i]);
        }
    }

    [Fact]
    public void TiesKeepTheLowerIndex()
    {
        float[] w = [1f, -1f, 1f, -1f, 0f, 0f, 0f, 0f];
        Assert.Equal([true, true, false, false, true, true, false, false], NmMask.Compute(w, 1, 8, 2, 4));
    }

    [Fact]
    public void PlainMasksAreUsuallyNotTransposable()
    {
        // The reason for section 8: the plain mask leaves W^T unstructured.
        int notTransposable = 0;
        for (int seed = 0; seed < 50; seed++)
        {
            var mask = NmMask.Compute(SparsityTestData.Weights(64, seed), 8, 8, 2, 4);
            if (!MaskChecks.IsValidTransposable(mask, 8, 8, 2, 4)) notTransposable++;
        }
        Assert.True(notTransposable > 40, $"only {notTransposable} of 50 plain masks broke the column rule");
    }
}
