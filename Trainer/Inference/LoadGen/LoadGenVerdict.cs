using System.Globalization;

namespace Orchestrator.Trainer.Inference.LoadGen;

/// <summary>Whether a run counts (LoadGen's VALID) and, if not, every reason why.</summary>
public sealed record LoadGenVerdict(IReadOnlyList<string> Reasons)
{
    /// <summary>No rule was broken.</summary>
    public bool Valid => Reasons.Count == 0;

    /// <summary>"VALID" or "INVALID: reason; reason".</summary>
    public override string ToString() => Valid ? "VALID" : "INVALID: " + string.Join("; ", Reasons);

    /// <summary>Checks a run against its settings: query count, duration, offline sample count, and the latency bound.</summary>
    public static LoadGenVerdict Judge(LoadGenRun run)
    {
        var s = run.Settings;
        var reasons = new List<string>();
        string F(double v, string format = "F1") => v.ToString(format, CultureInfo.InvariantCulture);
        if (run.QueryCount == 0)
        {
            reasons.Add("no query completed");
            return new(reasons);
        }
        if (run.QueryCount < s.MinQueryCount)
            reasons.Add($"{run.QueryCount} queries completed, fewer than the minimum {s.MinQueryCount}" +
                (run.HitMaxDuration ? $" (stopped at the maximum duration {F(s.MaxDuration!.Value.TotalSeconds)} s)" : ""));
        if (run.Duration < s.MinDuration)
            reasons.Add($"ran {F(run.Duration.TotalSeconds, "F2")} s, shorter than the minimum {F(s.MinDuration.TotalSeconds)} s");
        if (s.Scenario == InferenceScenario.Offline && run.SampleCount < s.MinSampleCount)
            reasons.Add($"the offline query held {run.SampleCount} samples, fewer than the minimum {s.MinSampleCount}");
        if (s.LatencyBound is { } bound && run.PercentileLatency > bound.TotalSeconds)
        {
            int met = run.Latencies.Count(l => l <= bound.TotalSeconds);
            string what = s.Scenario == InferenceScenario.MultiStream ? "the interval" : "the bound";
            reasons.Add($"{F(s.LatencyPercentile * 100, "0.#")}th-percentile latency {F(run.PercentileLatency * 1000, "F2")} ms exceeds {what} " +
                $"{F(bound.TotalMilliseconds, "0.###")} ms ({met} of {run.QueryCount} queries within it)");
        }
        return new(reasons);
    }
}
