using System.Numerics;
using System.Runtime.InteropServices;

namespace Orchestrator.Trainer.Collectives;

/// <summary>Small vectorized helpers shared by the allreduce algorithms.</summary>
internal static class BucketMath
{
    /// <summary>
    /// Divides every value by <paramref name="ranks"/>. A true division (correctly rounded), not a
    /// multiply by 1/ranks, so the mean of exact sums is the exact fp32 mean for any rank count.
    /// </summary>
    public static void DivideBy(Span<float> values, int ranks)
    {
        if (ranks == 1) return;
        float divisor = ranks;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vectors = MemoryMarshal.Cast<float, Vector<float>>(values);
            var d = new Vector<float>(divisor);
            for (int k = 0; k < vectors.Length; k++) vectors[k] /= d;
            i = vectors.Length * Vector<float>.Count;
        }
        for (; i < values.Length; i++) values[i] /= divisor;
    }

    /// <summary>
    /// A codec seed per (rank, hop) from the step's seed (SplitMix64 finalizer), so stochastic
    /// rounding is independent across ranks and hops but reproducible for a given step.
    /// </summary>
    public static ulong Seed(ulong seed, int rank, int hop)
    {
        ulong z = seed + 0x9E3779B97F4A7C15UL * (ulong)(1 + rank) + 0xD1B54A32D192ED03UL * (ulong)(1 + hop);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Grows a scratch buffer to at least <paramref name="length"/> (never shrinks: buckets repeat every step).</summary>
    public static T[] Ensure<T>(ref T[] buffer, int length)
    {
        if (buffer.Length < length) buffer = new T[length];
        return buffer;
    }

    /// <summary>Start and length of chunk <paramref name="index"/> when <paramref name="total"/> values are
    /// split into <paramref name="chunks"/> nearly equal parts (the first total % chunks are one longer; some may be empty).</summary>
    public static (int Start, int Length) Chunk(int total, int chunks, int index)
    {
        int baseLength = total / chunks, longer = total % chunks;
        int start = index * baseLength + Math.Min(index, longer);
        return (start, baseLength + (index < longer ? 1 : 0));
    }
}
