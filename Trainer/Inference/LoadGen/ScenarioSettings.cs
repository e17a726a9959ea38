namespace Orchestrator.Trainer.Inference.LoadGen;

/// <summary>
/// What one LoadGen run must do to count: the scenario's minimum query count, duration and (offline) sample count,
/// the latency percentile it reports and the bound that percentile must meet, and the query shape.
/// </summary>
/// <param name="Scenario">The scenario.</param>
/// <param name="MinQueryCount">Queries the run must complete (offline: 1).</param>
/// <param name="MinDuration">Time the run must last, first issue to last completion.</param>
/// <param name="LatencyPercentile">The percentile reported and checked (0.9 single-stream, 0.99 multi-stream and server).</param>
/// <param name="LatencyBound">The bound that percentile must meet: the interval (multi-stream), the server bound; null when none (single-stream, offline).</param>
/// <param name="SamplesPerQuery">Samples in each query (single-stream and server 1, multi-stream N; offline: see <see cref="MinSampleCount"/>).</param>
/// <param name="QueriesPerSecond">Arrival rate: Poisson for server, 1 / interval for multi-stream; 0 for the others.</param>
/// <param name="MinSampleCount">Offline: samples the one query must hold at least.</param>
/// <param name="MaxDuration">Stop issuing queries after this long (the run is then INVALID if a minimum is unmet); null for no limit.</param>
/// <param name="Seed">Seeds the sample choice and the arrivals.</param>
public sealed record ScenarioSettings(
    InferenceScenario Scenario,
    long MinQueryCount,
    TimeSpan MinDuration,
    double LatencyPercentile,
    TimeSpan? LatencyBound,
    int SamplesPerQuery,
    double QueriesPerSecond,
    long MinSampleCount,
    TimeSpan? MaxDuration,
    int Seed)
{
    /// <summary>LoadGen's minimum queries for single-stream.</summary>
    public const long SingleStreamMinQueries = 1024;

    /// <summary>LoadGen's minimum queries for multi-stream and server (the paper's 270K).</summary>
    public const long ManyStreamMinQueries = 270_336;

    /// <summary>LoadGen's minimum samples of the offline query.</summary>
    public const long OfflineMinSamples = 24_576;

    /// <summary>LoadGen's minimum run duration.</summary>
    public static readonly TimeSpan OfficialMinDuration = TimeSpan.FromSeconds(60);

    /// <summary>Multi-stream's default interval (the paper's 50 ms for image classification).</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>Server's default latency bound (the paper's 15 ms for ResNet-50).</summary>
    public static readonly TimeSpan DefaultServerBound = TimeSpan.FromMilliseconds(15);

    /// <summary>
    /// LoadGen's settings for <paramref name="scenario"/>; <paramref name="samplesPerQuery"/> is multi-stream's N,
    /// <paramref name="queriesPerSecond"/> server's target rate, <paramref name="bound"/> the interval or server bound
    /// (null: the default).
    /// </summary>
    public static ScenarioSettings Official(InferenceScenario scenario, int samplesPerQuery = 1, double queriesPerSecond = 0,
        TimeSpan? bound = null, int seed = 1) => scenario switch
    {
        InferenceScenario.SingleStream => new(scenario, SingleStreamMinQueries, OfficialMinDuration, 0.90, bound, 1, 0, 0, null, seed),
        InferenceScenario.MultiStream => MultiStream(ManyStreamMinQueries, OfficialMinDuration, samplesPerQuery, bound ?? DefaultInterval, seed),
        InferenceScenario.Server => new(scenario, ManyStreamMinQueries, OfficialMinDuration, 0.99, bound ?? DefaultServerBound, 1, queriesPerSecond, 0, null, seed),
        InferenceScenario.Offline => new(scenario, 1, OfficialMinDuration, 0.90, null, 0, 0, OfflineMinSamples, null, seed),
    };

    /// <summary>
    /// Smoke settings: LoadGen's rules with far smaller minimums (a few seconds per run), for trying the benchmark out.
    /// A run with them is labelled smoke everywhere and is not an MLPerf-valid result whatever its verdict.
    /// </summary>
    public static ScenarioSettings Smoke(InferenceScenario scenario, int samplesPerQuery = 1, double queriesPerSecond = 0,
        TimeSpan? bound = null, int seed = 1) => Official(scenario, samplesPerQuery, queriesPerSecond, bound, seed) with
    {
        MinQueryCount = scenario switch
        {
            InferenceScenario.SingleStream => 64,
            InferenceScenario.MultiStream => 64,
            InferenceScenario.Server => 512,
            InferenceScenario.Offline => 1,
        },
        MinDuration = TimeSpan.FromSeconds(2),
        MinSampleCount = scenario == InferenceScenario.Offline ? 2048 : 0,
        MaxDuration = TimeSpan.FromSeconds(60),
    };

    private static ScenarioSettings MultiStream(long minQueries, TimeSpan minDuration, int samplesPerQuery, TimeSpan interval, int seed) =>
        new(InferenceScenario.MultiStream, minQueries, minDuration, 0.99, interval, samplesPerQuery, 1 / interval.TotalSeconds, 0, null, seed);

    /// <summary>Whether these settings fall short of LoadGen's minimums for the scenario: such a run is labelled smoke.</summary>
    public bool IsSmoke
    {
        get
        {
            var official = Official(Scenario);
            return MinQueryCount < official.MinQueryCount || MinDuration < official.MinDuration || MinSampleCount < official.MinSampleCount;
        }
    }

    /// <summary>"smoke" or "official": how every report labels a run with these settings.</summary>
    public string Label => IsSmoke ? "smoke" : "official";

    /// <summary>Whether queries arrive on a schedule (multi-stream, server) rather than when the previous one completes.</summary>
    public bool Scheduled => Scenario is InferenceScenario.MultiStream or InferenceScenario.Server;

    /// <summary>The problem with these settings, or null: what a command line can get wrong.</summary>
    public string? Problem()
    {
        if (MinQueryCount < 1) return "the minimum query count must be >= 1";
        if (MinDuration < TimeSpan.Zero) return "the minimum duration must be >= 0";
        if (LatencyPercentile is <= 0 or >= 1) return "the latency percentile must be in (0, 1)";
        if (LatencyBound is { } b && b <= TimeSpan.Zero) return "the latency bound must be > 0";
        if (Scenario == InferenceScenario.MultiStream && SamplesPerQuery < 1) return "multi-stream needs at least 1 sample per query";
        if (Scenario == InferenceScenario.Server && !(QueriesPerSecond > 0 && double.IsFinite(QueriesPerSecond))) return "server needs a target rate > 0 queries/s";
        if (Scenario == InferenceScenario.Offline && MinSampleCount < 1) return "offline needs at least 1 sample";
        if (MaxDuration is { } m && m <= TimeSpan.Zero) return "the maximum duration must be > 0";
        return null;
    }
}
