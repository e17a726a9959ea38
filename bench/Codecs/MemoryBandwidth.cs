using System.Diagnostics;

namespace Orchestrator.Bench.Codecs;

/// <summary>The yardstick for <see cref="CodecThroughput"/>: single-threaded memcpy speed on the same machine.</summary>
public static class MemoryBandwidth
{
    /// <summary>Copies <paramref name="bytes"/> bytes between two buffers <paramref name="repeats"/> times
    /// after one warm-up; returns the best rate in GB/s of bytes copied.</summary>
    public static double MeasureCopyGBps(int bytes, int repeats)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(repeats);
        var src = new byte[bytes];
        var dst = new byte[bytes];
        new Random(1).NextBytes(src);
        src.AsSpan().CopyTo(dst);
        double best = double.MaxValue;
        for (int r = 0; r < repeats; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            src.AsSpan().CopyTo(dst);
            best = Math.Min(best, Stopwatch.GetElapsedTime(t0).TotalSeconds);
        }
        return bytes / best / 1e9;
    }
}
