using System.Diagnostics;

namespace Orchestrator.Trainer.Compression.Benchmarks;

/// <summary>
/// Single-threaded codec speed in GB/s of fp32 input (4 bytes per element), the unit of PLATFORM.md
/// "Codec speed". For the <c>bench codecs</c> command; not asserted anywhere (machines differ).
/// </summary>
public static class CodecThroughput
{
    /// <summary>Encodes and decodes <paramref name="elements"/> gradient-like values (Gaussian, a few
    /// exact zeros) <paramref name="repeats"/> times after one warm-up, returning the best-of rates.</summary>
    public static (double EncodeGBps, double DecodeGBps) Measure(IGradientCodec codec, int elements, int repeats)
    {
        ArgumentNullException.ThrowIfNull(codec);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(elements);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(repeats);
        var input = GradientLike(elements, seed: 1);
        var encoded = new byte[codec.EncodedBytes(elements)];
        var output = new float[elements];
        codec.Encode(input, encoded, 0);
        codec.Decode(encoded, output);
        double bytes = 4.0 * elements;
        double bestEncode = double.MaxValue, bestDecode = double.MaxValue;
        for (int r = 0; r < repeats; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            codec.Encode(input, encoded, (ulong)r + 1);
            long t1 = Stopwatch.GetTimestamp();
            codec.Decode(encoded, output);
            long t2 = Stopwatch.GetTimestamp();
            bestEncode = Math.Min(bestEncode, Stopwatch.GetElapsedTime(t0, t1).TotalSeconds);
            bestDecode = Math.Min(bestDecode, Stopwatch.GetElapsedTime(t1, t2).TotalSeconds);
        }
        return (bytes / bestEncode / 1e9, bytes / bestDecode / 1e9);
    }

    /// <summary>Standard normal values (Box-Muller) with every 97th value exactly zero.</summary>
    internal static float[] GradientLike(int elements, int seed)
    {
        var rng = new Random(seed);
        var x = new float[elements];
        for (int i = 0; i < elements; i++)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            x[i] = i % 97 == 0 ? 0f : (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return x;
    }
}
