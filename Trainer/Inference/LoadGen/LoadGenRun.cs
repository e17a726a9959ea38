namespace Orchestrator.Trainer.Inference.LoadGen;

/// <summary>What a run did: per-query latencies (arrival or issue to completion), counts and duration.</summary>
/// <param name="Settings">The settings it ran with.</param>
/// <param name="Latencies">Seconds from each query's arrival (scheduled scenarios) or issue to its completion, in issue order.</param>
/// <param name="SampleCount">Samples in all completed queries.</param>
/// <param name="Duration">From the start to the last completion.</param>
/// <param name="HitMaxDuration">Whether issuing stopped at <see cref="ScenarioSettings.MaxDuration"/> rather than at the minimums.</param>
public sealed record LoadGenRun(ScenarioSettings Settings, IReadOnlyList<double> Latencies, long SampleCount, TimeSpan Duration, bool HitMaxDuration)
{
    /// <summary>Completed queries.</summary>
    public long QueryCount => Latencies.Count;

    /// <summary>The scenario's latency percentile in seconds; NaN without queries.</summary>
    public double PercentileLatency => Latencies.Count == 0 ? double.NaN : LatencyPercentile.Of(Latencies, Settings.LatencyPercentile);

    /// <summary>Samples per second of the run's duration.</summary>
    public double SamplesPerSecond => Duration > TimeSpan.Zero ? SampleCount / Duration.TotalSeconds : 0;

    /// <summary>Completed queries per second of the run's duration.</summary>
    public double QueriesPerSecond => Duration > TimeSpan.Zero ? QueryCount / Duration.TotalSeconds : 0;
}
