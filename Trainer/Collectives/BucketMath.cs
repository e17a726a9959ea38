using System.Numerics.Tensors;

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
        TensorPrimitives.Divide(values, (float)ranks, values);
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

    /// <summary>Adds <paramref name="values"/> to <paramref name="to"/> element by element (same length).</summary>
    public static void Add(Span<float> to, ReadOnlySpan<float> values)
    {
        if (values.Length != to.Length) throw new ArgumentException($"lengths differ: {to.Length} and {values.Length}", nameof(values));
        TensorPrimitives.Add(to, values, to);
    }

    /// <summary>Subtracts <paramref name="values"/> from <paramref name="from"/> element by element (same length).</summary>
    public static void Subtract(Span<float> from, ReadOnlySpan<float> values)
    {
        if (values.Length != from.Length) throw new ArgumentException($"lengths differ: {from.Length} and {values.Length}", nameof(values));
        TensorPrimitives.Subtract(from, values, from);
    }

    /// <summary>Checks the error-feedback span of an allreduce: empty, or one value per bucket element.</summary>
    public static void CheckResidual(int bucketLength, Span<float> residual)
    {
        if (!residual.IsEmpty && residual.Length != bucketLength)
            throw new ArgumentException($"the residual needs {bucketLength} values (one per bucket element) or none, has {residual.Length}", nameof(residual));
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
