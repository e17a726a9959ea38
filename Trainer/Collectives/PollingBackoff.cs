namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// How long to pause between polls of an MPI request that is not complete: nothing for the first polls (a short wait
/// costs no more than spinning), then sleeps doubling from <see cref="FirstSleep"/> up to <see cref="LongestSleep"/>.
/// Pure logic; <see cref="Native.MpiRequests"/> polls and sleeps.
/// </summary>
/// <remarks>
/// MPICH's blocking calls poll without pause, which is right when the rank has nothing else to run. With
/// <c>compression.overlap</c> the communication thread waits while the backward computes on the same cores; polling
/// without pause took about a core from it (measured: the example CNN's backward 33% slower across a 100 Mbit link).
/// A sleeping poll leaves the core to the backward; the network keeps moving in the kernel's socket buffers meanwhile,
/// and the longest sleep (100 us, 12 KB at 1 Gbit/s) stays well under what those buffers hold.
/// </remarks>
public struct PollingBackoff
{
    /// <summary>Polls made without pausing.</summary>
    public const int SpinningPolls = 64;

    /// <summary>The first pause after the spinning polls.</summary>
    public static readonly TimeSpan FirstSleep = TimeSpan.FromMicroseconds(5);

    /// <summary>The longest pause between two polls.</summary>
    public static readonly TimeSpan LongestSleep = TimeSpan.FromMicroseconds(100);

    private int polls;
    private TimeSpan sleep;

    /// <summary>The pause before the next poll after one more poll found the request incomplete (zero: poll again now).</summary>
    public TimeSpan Next()
    {
        if (++polls <= SpinningPolls) return TimeSpan.Zero;
        sleep = sleep == TimeSpan.Zero ? FirstSleep : TimeSpan.FromTicks(Math.Min(sleep.Ticks * 2, LongestSleep.Ticks));
        return sleep;
    }
}
