namespace Orchestrator.Trainer.Data;

/// <summary>
/// SplitMix64 (Steele, Lea, Flood 2014): a tiny PRNG defined entirely by integer arithmetic, so every
/// process on every platform and runtime draws the same sequence from the same seed. Used where ranks
/// must agree without communicating (the sampler's permutations); <see cref="System.Random"/> makes no
/// such promise across .NET versions.
/// </summary>
internal struct SplitMix64
{
    private ulong _state;

    public SplitMix64(ulong seed) => _state = seed;

    /// <summary>Next 64 uniformly distributed bits.</summary>
    public ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        return Mix(z);
    }

    /// <summary>Uniform integer in [0, <paramref name="bound"/>), unbiased (Lemire's multiply-and-reject).</summary>
    public ulong NextBelow(ulong bound)
    {
        ulong high = Math.BigMul(Next(), bound, out ulong low);
        if (low < bound)
        {
            ulong threshold = (0UL - bound) % bound;
            while (low < threshold)
                high = Math.BigMul(Next(), bound, out low);
        }
        return high;
    }

    /// <summary>The SplitMix64 finalizer: a bijective bit mixer, also handy for deriving seeds.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
