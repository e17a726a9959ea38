namespace Orchestrator.Trainer.Inference.LoadGen;

/// <summary>The time a run is measured in: the wall clock for real runs, a simulated one in tests.</summary>
public interface ILoadGenClock
{
    /// <summary>Time since an arbitrary origin.</summary>
    TimeSpan Now { get; }

    /// <summary>Returns at <paramref name="time"/> (at once when it has passed).</summary>
    void WaitUntil(TimeSpan time);
}
