using System.Diagnostics;

namespace Orchestrator.Trainer.Devices;

/// <summary>
/// Frees the native objects that TorchSharp leaves to .NET finalizers (the <c>Scalar</c>s it makes for the number
/// arguments of tensor operations: the alpha of 1 in every add, BatchNorm's step count) after each training step,
/// instead of whenever a garbage collection happens to run.
/// </summary>
/// <remarks>
/// Why: a training step allocates almost nothing managed, so collections are rare (2 in 45 resnet20 steps), while every
/// step leaves hundreds of these small native objects behind, unreachable but not freed. Scattered among the step's large
/// activations they keep glibc from reusing freed blocks as they were, so the heap grows and new pages are faulted in
/// step after step: resnet20 at batch 256 took 2,400-3,700 page faults a step and reached 1.6-1.8 GB after 45 steps;
/// drained after each step, 100-260 faults and 1.25-1.3 GB (this project's 2-core VM; samples/s unchanged within the
/// noise). A drain is a full blocking collection (some of these objects live long enough to reach the oldest generation:
/// the example CNN at batch 64 kept 500 MB instead of 670 MB with it) and the pending finalizers; it took 0.3-0.5 ms
/// in a trainer process. It runs once at least <see cref="MinimumInterval"/> of step time, and 100 times its own last
/// cost, have gathered, so it costs at most about 1% of the training time, however large the managed heap of the process.
/// </remarks>
internal sealed class FinalizerDrain(Action? drain = null)
{
    /// <summary>Step time between drains, at least.</summary>
    public static readonly TimeSpan MinimumInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>Step time between drains, at least, as a multiple of the last drain's cost.</summary>
    public const int CostMultiple = 100;

    private readonly Action drain = drain ?? CollectAndFinalize;
    private TimeSpan sinceDrain;
    private TimeSpan lastCost;

    /// <summary>Whether steps drain at all (off only to measure what the drain changes).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Step time that has to gather before the next drain.</summary>
    public TimeSpan Interval => lastCost * CostMultiple > MinimumInterval ? lastCost * CostMultiple : MinimumInterval;

    /// <summary>Drains now, whatever the step time gathered (e.g. after an evaluation's many forwards).</summary>
    public void Now()
    {
        if (!Enabled) return;
        long started = Stopwatch.GetTimestamp();
        drain();
        lastCost = Stopwatch.GetElapsedTime(started);
        sinceDrain = TimeSpan.Zero;
    }

    /// <summary>Counts a step of <paramref name="elapsed"/> and drains once <see cref="Interval"/> of step time has gathered.</summary>
    public void AfterStep(TimeSpan elapsed)
    {
        sinceDrain += elapsed;
        if (sinceDrain >= Interval) Now();
    }

    /// <summary>Runs <paramref name="step"/>, then <see cref="AfterStep"/> with its duration.</summary>
    public T Around<T>(Func<T> step)
    {
        long started = Stopwatch.GetTimestamp();
        var result = step();
        AfterStep(Stopwatch.GetElapsedTime(started));
        return result;
    }

    /// <summary>The drain: every generation, then the finalizers of what it found unreachable, before it returns.</summary>
    private static void CollectAndFinalize()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }
}
