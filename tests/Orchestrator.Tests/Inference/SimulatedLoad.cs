using Orchestrator.Trainer.Inference.LoadGen;

namespace Orchestrator.Tests.Inference;

/// <summary>A clock that only moves when told: waiting jumps to the time, and the fake system below advances it by its latency.</summary>
internal sealed class SimulatedClock : ILoadGenClock
{
    public TimeSpan Now { get; private set; }

    public void WaitUntil(TimeSpan time)
    {
        if (time > Now) Now = time;
    }

    public void Advance(TimeSpan by) => Now += by;
}

/// <summary>
/// A stand-in system under test for the LoadGen logic: it takes <c>latency(samples)</c> of simulated time per call and
/// predicts <c>predict(index)</c>; it records every call's samples.
/// </summary>
internal sealed class FakeSystem(SimulatedClock clock, Func<int, TimeSpan> latency, Func<int, int>? predict = null) : ISystemUnderTest
{
    public List<int[]> Calls { get; } = [];

    public int[] Run(IReadOnlyList<int> samples)
    {
        Calls.Add([.. samples]);
        clock.Advance(latency(samples.Count));
        return samples.Select(s => predict?.Invoke(s) ?? 0).ToArray();
    }
}
