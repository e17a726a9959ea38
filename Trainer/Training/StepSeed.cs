namespace Orchestrator.Trainer.Training;

/// <summary>
/// Per-step random seeds derived from (job seed, step, rank) with SplitMix64. Randomness that is a
/// pure function of the position needs no RNG state in checkpoints and is identical after a resume
/// or a rescale.
/// </summary>
public static class StepSeed
{
    public static long For(long seed, long step, int rank)
    {
        ulong z = Mix((ulong)seed) ^ Mix((ulong)step + 0x9E3779B97F4A7C15UL) ^ Mix((ulong)rank * 0xD1B54A32D192ED03UL + 1);
        return (long)(Mix(z) >> 1); // torch generators take non-negative seeds
    }

    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
