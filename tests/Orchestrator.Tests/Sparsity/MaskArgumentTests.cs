using Orchestrator.Trainer.Sparsity;

namespace Orchestrator.Tests.Sparsity;

public sealed class MaskArgumentTests
{
    public static TheoryData<int, int> BadPatterns() => new() { { 4, 4 }, { 5, 4 }, { 0, 4 }, { -1, 4 }, { 2, 17 }, { 8, 32 } };

    [Theory]
    [MemberData(nameof(BadPatterns))]
    public void OutOfRangePatternsAreRefusedEverywhere(int n, int m)
    {
        int size = Math.Max(m, 1);
        var w = new float[size * size];
        foreach (var method in new[] { TransposableMaskMethod.Greedy, TransposableMaskMethod.Optimal })
        {
            var e = Assert.ThrowsAny<ArgumentException>(() => TransposableNmMask.Compute(w, size, size, n, m, method));
            Assert.Contains("1 <= N < M <= 16", e.Message);
            Assert.ThrowsAny<ArgumentException>(() => TransposableNmMask.ComputeBlock(w, n, m, method));
        }
        Assert.Contains("1 <= N < M <= 16", Assert.ThrowsAny<ArgumentException>(() => NmMask.Compute(w, size, size, n, m)).Message);
        Assert.ThrowsAny<ArgumentException>(() => MaskChecks.IsValidTransposable(new bool[w.Length], size, size, n, m));
    }

    [Fact]
    public void ASpanNotMatchingTheShapeIsRefused()
    {
        var w = new float[63];
        var e = Assert.Throws<ArgumentException>(() => TransposableNmMask.Compute(w, 8, 8, 2, 4, TransposableMaskMethod.Optimal));
        Assert.Contains("63 values", e.Message);
        Assert.Contains("[8, 8]", e.Message);
        Assert.Contains("63 values", Assert.Throws<ArgumentException>(() => NmMask.Compute(w, 8, 8, 2, 4)).Message);
        Assert.Throws<ArgumentException>(() => TransposableNmMask.ComputeBlock(new float[15], 2, 4, TransposableMaskMethod.Greedy));
        Assert.Throws<ArgumentException>(() => NmMask.Compute([], 0, 4, 2, 4));
    }

    [Fact]
    public void DimensionsNotAMultipleOfMAreRefusedNamingTheShape()
    {
        var e = Assert.Throws<ArgumentException>(() => TransposableNmMask.Compute(new float[8 * 6], 8, 6, 2, 4, TransposableMaskMethod.Greedy));
        Assert.Contains("[8, 6]", e.Message);
        Assert.Contains("multiples of M = 4", e.Message);
        Assert.Throws<ArgumentException>(() => TransposableNmMask.Compute(new float[6 * 8], 6, 8, 2, 4, TransposableMaskMethod.Optimal));
        Assert.Contains("[2, 6]", Assert.Throws<ArgumentException>(() => NmMask.Compute(new float[12], 2, 6, 2, 4)).Message);
        // Rows need not be a multiple of M for the plain mask: it works along rows only.
        Assert.True(MaskChecks.IsValidNm(NmMask.Compute(new float[12], 3, 4, 2, 4), 3, 4, 2, 4));
    }

    [Fact]
    public void NonFiniteWeightsAreRefusedNamingTheIndex()
    {
        var w = new float[16];
        w[5] = float.NaN;
        Assert.Contains("weights[5]", Assert.Throws<ArgumentException>(() => TransposableNmMask.ComputeBlock(w, 2, 4, TransposableMaskMethod.Optimal)).Message);
        w[5] = float.PositiveInfinity;
        Assert.Contains("weights[5]", Assert.Throws<ArgumentException>(() => NmMask.Compute(w, 4, 4, 2, 4)).Message);
    }
}
