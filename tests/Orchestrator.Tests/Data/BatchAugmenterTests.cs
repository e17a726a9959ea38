using Orchestrator.Spec;
using Orchestrator.Trainer.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Tests.Data;

public class BatchAugmenterTests
{
    private static bool Same(Tensor a, Tensor b) =>
        a.shape.SequenceEqual(b.shape) && a.equal(b).all().item<bool>();

    private static Tensor RandomImages(long n, long c, long h, long w, ulong seed)
    {
        using var g = new Generator(seed);
        return rand([n, c, h, w], generator: g);
    }

    private static Tensor Augment(AugmentSpec spec, Tensor images, ulong seed)
    {
        using var g = new Generator(seed);
        return new BatchAugmenter(spec).Apply(images, g);
    }

    [Theory]
    [InlineData(4, false, 0)]
    [InlineData(0, true, 0)]
    [InlineData(0, false, 5)]
    [InlineData(4, true, 8)]
    public void PreservesShapeAndDtype(int padding, bool flip, int cutout)
    {
        using var scope = NewDisposeScope();
        var x = RandomImages(8, 3, 32, 32, 1);
        var y = Augment(new AugmentSpec(padding, flip, cutout), x, 2);
        Assert.Equal(x.shape, y.shape);
        Assert.Equal(x.dtype, y.dtype);
        Assert.False(Same(x, y));
    }

    [Fact]
    public void NoOpSpecReturnsTheInput()
    {
        using var scope = NewDisposeScope();
        var x = RandomImages(4, 1, 8, 8, 1);
        var augmenter = new BatchAugmenter(new AugmentSpec(0, false, 0));
        Assert.True(augmenter.IsIdentity);
        using var g = new Generator(1);
        Assert.Same(x, augmenter.Apply(x, g));
    }

    [Fact]
    public void DeterministicBySeed()
    {
        using var scope = NewDisposeScope();
        var spec = new AugmentSpec(4, true, 8);
        var x = RandomImages(16, 3, 32, 32, 1);
        Assert.True(Same(Augment(spec, x, 10), Augment(spec, x, 10)));
        Assert.False(Same(Augment(spec, x, 10), Augment(spec, x, 11)));
    }

    [Fact]
    public void GeneratorStateAdvances()
    {
        using var scope = NewDisposeScope();
        var x = RandomImages(16, 1, 16, 16, 1);
        var augmenter = new BatchAugmenter(new AugmentSpec(2, true, 4));
        using var g = new Generator(5);
        Assert.False(Same(augmenter.Apply(x, g), augmenter.Apply(x, g)));
    }

    /// <summary>Each output equals the zero-padded input's H x W window at some offset in [0, 2p]², checked naively.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void CropIsAShiftedWindowOfThePaddedInput(int p)
    {
        using var scope = NewDisposeScope();
        const int n = 24, c = 2, h = 6, w = 5;
        var x = RandomImages(n, c, h, w, 3).add_(1f); // strictly positive so padding zeros are distinguishable
        var y = Augment(new AugmentSpec(p, false, 0), x, 4);
        var input = x.data<float>().ToArray();
        var output = y.data<float>().ToArray();

        float Padded(int s, int ch, int row, int col) =>
            row < p || row >= h + p || col < p || col >= w + p ? 0f : input[((s * c + ch) * h + row - p) * w + col - p];

        var offsetsSeen = new HashSet<(int, int)>();
        for (int s = 0; s < n; s++)
        {
            var matches = new List<(int, int)>();
            for (int dy = 0; dy <= 2 * p; dy++)
                for (int dx = 0; dx <= 2 * p; dx++)
                {
                    bool all = true;
                    for (int ch = 0; ch < c && all; ch++)
                        for (int row = 0; row < h && all; row++)
                            for (int col = 0; col < w && all; col++)
                                all = output[((s * c + ch) * h + row) * w + col] == Padded(s, ch, row + dy, col + dx);
                    if (all) matches.Add((dy, dx));
                }
            Assert.Single(matches);
            offsetsSeen.Add(matches[0]);
        }
        Assert.True(offsetsSeen.Count > 1, "offsets should vary between samples");
    }

    [Fact]
    public void FlipGivesOriginalOrMirrorPerSample()
    {
        using var scope = NewDisposeScope();
        const int n = 64;
        var x = RandomImages(n, 3, 5, 7, 1);
        var y = Augment(new AugmentSpec(0, true, 0), x, 6);
        var mirror = x.flip(3);
        int flipped = 0;
        for (int s = 0; s < n; s++)
        {
            bool same = Same(y[s], x[s]), mirrored = Same(y[s], mirror[s]);
            Assert.True(same ^ mirrored, $"sample {s} is neither the original nor its mirror");
            if (mirrored) flipped++;
        }
        Assert.InRange(flipped, 16, 48); // p = 1/2: 64 fair coins land here with overwhelming probability
    }

    /// <summary>
    /// On all-ones input each sample's zeros form one rectangle, identical in every channel, at most s x s, and
    /// exactly s x s when it does not touch the border (the square was not clipped).
    /// </summary>
    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public void CutoutZeroesOneClippedSquare(int size)
    {
        using var scope = NewDisposeScope();
        const int n = 64, c = 3, h = 16, w = 16;
        var y = Augment(new AugmentSpec(0, false, size), ones(n, c, h, w), 8);
        var v = y.data<float>().ToArray();
        int interior = 0;
        for (int s = 0; s < n; s++)
        {
            int top = h, bottom = -1, left = w, right = -1, zeros = 0;
            for (int row = 0; row < h; row++)
                for (int col = 0; col < w; col++)
                {
                    float first = v[((s * c) * h + row) * w + col];
                    for (int ch = 1; ch < c; ch++) Assert.Equal(first, v[((s * c + ch) * h + row) * w + col]);
                    Assert.True(first is 0f or 1f);
                    if (first != 0f) continue;
                    zeros++;
                    top = Math.Min(top, row); bottom = Math.Max(bottom, row);
                    left = Math.Min(left, col); right = Math.Max(right, col);
                }
            Assert.True(zeros > 0, $"sample {s} has no cutout");
            int boxH = bottom - top + 1, boxW = right - left + 1;
            Assert.Equal(boxH * boxW, zeros); // a filled rectangle
            Assert.InRange(boxH, 1, size);
            Assert.InRange(boxW, 1, size);
            if (top > 0 && left > 0 && bottom < h - 1 && right < w - 1)
            {
                Assert.Equal(size * size, zeros);
                interior++;
            }
            else
            {
                // Clipped sides are the ones at the border.
                if (boxH < size) Assert.True(top == 0 || bottom == h - 1);
                if (boxW < size) Assert.True(left == 0 || right == w - 1);
            }
        }
        Assert.True(interior >= n / 8, $"only {interior} interior squares"); // about (1 - (s + 1) / h)² of them
    }

    [Fact]
    public void RejectsNegativeOptions()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchAugmenter(new AugmentSpec(-1, false, 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchAugmenter(new AugmentSpec(0, false, -2)));
    }
}
