using Orchestrator.Trainer.Sparsity;

namespace Orchestrator.Tests.Sparsity;

public sealed class MaskDiversityTests
{
    [Theory]
    [InlineData(2, 4, 90)] // the paper's K(4, 2)
    [InlineData(1, 4, 24)] // permutation matrices: 4!
    [InlineData(3, 4, 24)] // complements of permutation matrices
    [InlineData(1, 3, 6)]
    [InlineData(3, 6, 297_200)]
    public void TransposableCountsMatchByEnumeration(int n, int m, long expected)
    {
        Assert.Equal(expected, MaskDiversity.CountTransposable(n, m));
    }

    [Fact]
    public void EnumeratedMasksAreValidAndDistinct()
    {
        var all = MaskDiversity.AllTransposable(2, 4);
        Assert.Equal(90, all.Count);
        Assert.All(all, mask => Assert.True(MaskChecks.IsValidTransposable(mask, 4, 4, 2, 4)));
        Assert.Equal(90, all.Select(mask => string.Concat(mask.Select(k => k ? '1' : '0'))).Distinct().Count());
    }

    [Fact]
    public void PlainDiversityIsChooseToThePowerOfM()
    {
        // 2:4 on a 4x4 block: 6^4 = 1296 plain masks against 90 transposable ones.
        Assert.Equal(1296, MaskDiversity.CountPlain(2, 4));
        // log10 MD per 64 weights from the doc: 2:4 12.45, T2:4 7.82.
        Assert.Equal(12.45, 4 * Math.Log10(MaskDiversity.CountPlain(2, 4)), 2);
        Assert.Equal(7.82, 4 * Math.Log10(MaskDiversity.CountTransposable(2, 4)), 2);
    }

    [Fact]
    public void RefusesToEnumerateLargeBlocks()
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => MaskDiversity.CountTransposable(4, 8));
        Assert.Contains("M <= 6", e.Message);
    }
}
