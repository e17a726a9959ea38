using System.Diagnostics;
using Orchestrator.Trainer.Compression;

namespace Orchestrator.Bench.Codecs;

/// <summary>
/// Single-threaded codec speed in GB/s of fp32 input (4 bytes per element), the unit of PLATFORM.md
/// "Codec speed". For the <c>bench codecs</c> command; not asserted anywhere (machines differ).
/// </summary>
public static class CodecThroughput
{
    /// <summary>Encodes and decodes <paramref name="elements"/> gradient-like values (Gaussian, a few
    /// exact zeros) <paramref name="repeats"/> times after one warm-up, returning the best-of rates.
    /// With <paramref name="threads"/> &gt; 1 the values are split into that many buckets encoded (and
    /// decoded) at the same time, one per thread: how a worker spreads several gradient buckets.</summary>
    public static (double EncodeGBps, double DecodeGBps) Measure(IGradientCodec codec, int elements, int repeats, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(codec);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(elements);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(repeats);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threads);
        var input = GradientLike(elements, seed: 1);
        int part = (elements / threads + 4095) / 4096 * 4096;
        var parts = Enumerable.Range(0, threads)
            .Select(t => (Start: Math.Min(elements, t * part), Length: Math.Max(0, Math.Min(part, elements - t * part))))
            .Where(p => p.Length > 0).ToArray();
        var encoded = parts.Select(p => new byte[codec.EncodedBytes(p.Length)]).ToArray();
        var output = new float[elements];
        void Encode(ulong seed) => Parallel.For(0, parts.Length, new ParallelOptions { MaxDegreeOfParallelism = threads },
            i => codec.Encode(input.AsSpan(parts[i].Start, parts[i].Length), encoded[i], seed + (ulong)i));
        void Decode() => Parallel.For(0, parts.Length, new ParallelOptions { MaxDegreeOfParallelism = threads },
            i => codec.Decode(encoded[i], output.AsSpan(parts[i].Start, parts[i].Length)));
        Encode(0);
        Decode();
        double bytes = 4.0 * elements;
        double bestEncode = double.MaxValue, bestDecode = double.MaxValue;
        for (int r = 0; r < repeats; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            Encode((ulong)r * 64 + 1);
            long t1 = Stopwatch.GetTimestamp();
            Decode();
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
