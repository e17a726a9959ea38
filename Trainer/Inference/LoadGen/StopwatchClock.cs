using System.Diagnostics;

namespace Orchestrator.Trainer.Inference.LoadGen;

/// <summary>The wall clock: sleeps until a millisecond before the time, then spins, so arrivals are issued within microseconds.</summary>
public sealed class StopwatchClock : ILoadGenClock
{
    private static readonly TimeSpan SpinWindow = TimeSpan.FromMilliseconds(1.5);
    private readonly Stopwatch watch = Stopwatch.StartNew();

    /// <inheritdoc/>
    public TimeSpan Now => watch.Elapsed;

    /// <inheritdoc/>
    public void WaitUntil(TimeSpan time)
    {
        while (true)
        {
            var left = time - Now;
            if (left <= TimeSpan.Zero) return;
            if (left > SpinWindow) Thread.Sleep(left - SpinWindow);
            else Thread.SpinWait(20);
        }
    }
}
