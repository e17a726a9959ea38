using System.Runtime.InteropServices;
using Orchestrator.Trainer.Compression;

namespace Orchestrator.Tests.Compression;

public sealed class Int8CodecTests
{
    private static float[] Scales(byte[] enc, int n) => MemoryMarshal.Cast<byte, float>(enc.AsSpan(0, 4 * ((n + 1023) / 1024))).ToArray();

    [Theory, InlineData(true), InlineData(false)]
    public void ErrorIsAtMostOneScaleAndZerosAndMaximaAreExact(bool vectorized)
    {
        var codec = new Int8Codec(vectorized);
        foreach (int n in new[] { 1, 3, 1023, 1025, 4099 })
        {
            var x = CodecTestData.Gradient(n, n);
            if (n > 2000) Array.Clear(x, 1024, 1024); // an all-zero chunk
            var enc = new byte[codec.EncodedBytes(n)];
            codec.Encode(x, enc, 17);
            var scales = Scales(enc, n);
            var y = new float[n];
            codec.Decode(enc, y);
            for (int c = 0; c < scales.Length; c++)
            {
                int start = c * 1024, end = Math.Min(n, start + 1024);
                float max = 0f;
                for (int i = start; i < end; i++) max = Math.Max(max, Math.Abs(x[i]));
                Assert.Equal(max / 127f, scales[c]);
                for (int i = start; i < end; i++)
                {
                    byte q = enc[4 * scales.Length + i];
                    // The (1 + 1e-5) covers x * (1/scale) differing from x / scale by a few ulps.
                    Assert.True(Math.Abs(y[i] - x[i]) <= scales[c] * (1 + 1e-5), $"n={n} i={i}: {y[i]} vs {x[i]}");
                    if (x[i] == 0f) Assert.Equal(127, q);
                    if (max > 0 && Math.Abs(x[i]) == max) Assert.Equal(x[i] > 0 ? 254 : 0, q);
                }
            }
        }
    }

    [Fact]
    public void AllZeroInputHasZeroScalesAndDecodesToZeros()
    {
        var codec = new Int8Codec();
        var x = new float[2500];
        var enc = new byte[codec.EncodedBytes(x.Length)];
        codec.Encode(x, enc, 1);
        Assert.All(Scales(enc, x.Length), s => Assert.Equal(0f, s));
        var y = new float[x.Length];
        Array.Fill(y, 1f);
        codec.Decode(enc, y);
        Assert.All(y, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void GoldenBytes()
    {
        // max 254 -> scale 2, every value on the grid: q = 1, -2, 0, 127 -> bytes 128, 125, 127, 254.
        var codec = new Int8Codec();
        var enc = new byte[codec.EncodedBytes(4)];
        codec.Encode([2f, -4f, 0f, 254f], enc, 1);
        Assert.Equal([.. BitConverter.GetBytes(2f), 128, 125, 127, 254], enc);
    }

    [Theory, InlineData(true), InlineData(false)]
    public void UnbiasedWithTheStochasticRoundingVariance(bool vectorized)
    {
        var codec = new Int8Codec(vectorized);
        var x = CodecTestData.Gradient(2048, 5);
        var stats = new EstimatorStats(codec, x, draws: 300);
        var variance = new double[x.Length];
        var fourth = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            int c = i / 1024;
            float max = 0f;
            for (int j = c * 1024; j < (c + 1) * 1024; j++) max = Math.Max(max, Math.Abs(x[j]));
            double scale = max / 127f;
            double y = x[i] / scale, fl = Math.Floor(y), f = y - fl;
            // q is fl + 1 with probability f, else fl: variance scale^2 f (1 - f).
            (variance[i], fourth[i]) = EstimatorStats.TwoPoint(f, (fl + 1) * scale, fl * scale);
        }
        stats.AssertUnbiased(x, variance, block: 1);
        stats.AssertVariance(variance, fourth, block: 1);
    }
}
