namespace Orchestrator.Trainer.Inference.LoadGen;

/// <summary>
/// The queries of a run, as LoadGen generates them: samples drawn uniformly (with repetition) from the sample library,
/// and arrivals by scenario: Poisson at the target rate for server (exponential gaps, so the count in any window is
/// Poisson), every interval for multi-stream, none for single-stream and offline (issued on completion). Everything
/// follows from the seed, so a run can be repeated exactly.
/// </summary>
public static class QueryGenerator
{
    /// <summary>
    /// The endless sequence of queries for <paramref name="settings"/> over a library of <paramref name="librarySize"/> samples;
    /// the runner stops taking them. Offline is one query of <paramref name="offlineSamples"/> samples.
    /// </summary>
    public static IEnumerable<Query> Generate(ScenarioSettings settings, int librarySize, long offlineSamples = 0)
    {
        if (librarySize < 1) throw new ArgumentOutOfRangeException(nameof(librarySize), librarySize, "the sample library is empty");
        // Two streams, so the arrivals of a seed do not depend on how many samples each query draws.
        var samples = new Random(settings.Seed);
        var arrivals = new Random(unchecked(settings.Seed * 7919 + 1));
        return settings.Scenario switch
        {
            InferenceScenario.Offline => Offline(samples, librarySize, Math.Max(offlineSamples, settings.MinSampleCount)),
            InferenceScenario.SingleStream => Endless(id => new Query(id, TimeSpan.Zero, Draw(samples, librarySize, 1))),
            InferenceScenario.MultiStream => Endless(id => new Query(id, Seconds(id / settings.QueriesPerSecond), Draw(samples, librarySize, settings.SamplesPerQuery))),
            InferenceScenario.Server => Poisson(settings.QueriesPerSecond, arrivals, samples, librarySize),
        };
    }

    /// <summary>Arrival times of a Poisson process at <paramref name="rate"/> per second: cumulative exponential gaps.</summary>
    public static IEnumerable<TimeSpan> PoissonArrivals(double rate, Random random)
    {
        if (!(rate > 0 && double.IsFinite(rate))) throw new ArgumentOutOfRangeException(nameof(rate), rate, "the rate must be > 0");
        double t = 0;
        while (true)
        {
            // 1 - U is in (0, 1], so the logarithm is finite.
            t += -Math.Log(1 - random.NextDouble()) / rate;
            yield return Seconds(t);
        }
    }

    /// <summary>Seconds to the nearest tick (TimeSpan.FromSeconds truncates, which puts k x 10 ms a tick early).</summary>
    private static TimeSpan Seconds(double seconds) => TimeSpan.FromTicks((long)Math.Round(seconds * TimeSpan.TicksPerSecond));

    private static IEnumerable<Query> Poisson(double rate, Random arrivals, Random samples, int librarySize)
    {
        long id = 0;
        foreach (var at in PoissonArrivals(rate, arrivals))
            yield return new Query(id++, at, Draw(samples, librarySize, 1));
    }

    private static IEnumerable<Query> Offline(Random samples, int librarySize, long count)
    {
        if (count < 1 || count > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(count), count, "the offline query needs 1 .. 2^31 - 1 samples");
        yield return new Query(0, TimeSpan.Zero, Draw(samples, librarySize, (int)count));
    }

    private static IEnumerable<Query> Endless(Func<long, Query> make)
    {
        for (long id = 0; ; id++) yield return make(id);
    }

    private static int[] Draw(Random random, int librarySize, int count)
    {
        var drawn = new int[count];
        for (int i = 0; i < count; i++) drawn[i] = random.Next(librarySize);
        return drawn;
    }
}
