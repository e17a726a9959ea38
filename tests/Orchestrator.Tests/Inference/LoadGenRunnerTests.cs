using Orchestrator.Trainer.Inference.LoadGen;

namespace Orchestrator.Tests.Inference;

/// <summary>
/// The LoadGen runner and verdict on simulated time (a stand-in system whose latency is set by the test, so nothing depends on
/// this machine's speed): minimums, latency measured from arrival, bounds, smoke labels.
/// </summary>
public sealed class LoadGenRunnerTests
{
    private static readonly TimeSpan Ms = TimeSpan.FromMilliseconds(1);

    private static (LoadGenRun run, FakeSystem system) Run(ScenarioSettings settings, Func<int, TimeSpan> latency, int library = 100,
        int maxServerBatch = 1, long offlineSamples = 0)
    {
        var clock = new SimulatedClock();
        var system = new FakeSystem(clock, latency);
        var run = new LoadGenRunner(clock, system, maxServerBatch).Run(settings, QueryGenerator.Generate(settings, library, offlineSamples));
        return (run, system);
    }

    [Fact]
    public void Single_stream_issues_on_completion_until_both_minimums_are_met_and_reports_the_90th_percentile()
    {
        var settings = ScenarioSettings.Official(InferenceScenario.SingleStream) with { MinQueryCount = 50, MinDuration = TimeSpan.FromSeconds(1) };
        var (run, system) = Run(settings, _ => 5 * Ms);
        Assert.Equal(200, run.QueryCount); // 1 s of 5 ms queries
        Assert.All(system.Calls, c => Assert.Single(c));
        Assert.True(LoadGenVerdict.Judge(run).Valid, LoadGenVerdict.Judge(run).ToString());

        // Latencies cycling 5, 10, 15, 20 ms: 50 ms per cycle.
        int call = 0;
        var (cycling, _) = Run(settings, _ => 5 * Ms * (1 + call++ % 4));
        Assert.Equal(80, cycling.QueryCount); // 20 cycles of 50 ms
        Assert.Equal(0.020, cycling.PercentileLatency, 9); // only 75% of the queries take <= 15 ms, so p90 is a 20 ms one
        Assert.Equal(1.0, cycling.Duration.TotalSeconds, 9);
    }

    [Fact]
    public void A_run_shorter_than_the_minimum_is_invalid_and_says_why()
    {
        var settings = ScenarioSettings.Official(InferenceScenario.SingleStream) with { MaxDuration = TimeSpan.FromSeconds(0.5) };
        var (run, _) = Run(settings, _ => 10 * Ms);
        var verdict = LoadGenVerdict.Judge(run);

        Assert.True(run.HitMaxDuration);
        Assert.Equal(50, run.QueryCount);
        Assert.False(verdict.Valid);
        Assert.Equal([
            "50 queries completed, fewer than the minimum 1024 (stopped at the maximum duration 0.5 s)",
            "ran 0.50 s, shorter than the minimum 60.0 s"], verdict.Reasons);
        Assert.StartsWith("INVALID: 50 queries completed", verdict.ToString());
    }

    [Fact]
    public void An_offline_query_with_fewer_samples_than_the_minimum_is_invalid()
    {
        var settings = ScenarioSettings.Smoke(InferenceScenario.Offline) with { MinDuration = TimeSpan.Zero };
        var (run, system) = Run(settings, n => n * 0.1 * Ms, offlineSamples: 5000);
        Assert.True(LoadGenVerdict.Judge(run).Valid);
        Assert.Equal(5000, Assert.Single(system.Calls).Length);
        Assert.Equal(5000 / 0.5, run.SamplesPerSecond, 6);

        var tooFew = LoadGenVerdict.Judge(run with { SampleCount = 100 });
        Assert.Equal(["the offline query held 100 samples, fewer than the minimum 2048"], tooFew.Reasons);
    }

    [Fact]
    public void A_latency_bound_no_query_meets_gives_invalid_not_a_crash()
    {
        var settings = ScenarioSettings.Smoke(InferenceScenario.Server, queriesPerSecond: 20, bound: TimeSpan.FromMilliseconds(15));
        var (run, _) = Run(settings, _ => 20 * Ms);
        var verdict = LoadGenVerdict.Judge(run);

        Assert.True(run.QueryCount >= settings.MinQueryCount);
        Assert.True(run.Duration >= settings.MinDuration);
        var reason = Assert.Single(verdict.Reasons);
        Assert.StartsWith("99th-percentile latency ", reason);
        Assert.EndsWith($"ms exceeds the bound 15 ms (0 of {run.QueryCount} queries within it)", reason);
    }

    [Fact]
    public void Multi_stream_latency_runs_from_the_scheduled_arrival_so_a_late_system_falls_further_behind()
    {
        // Queries every 10 ms, each taking 15 ms: query k starts when k - 1 ends, at 15 k ms, and ends at 15 (k + 1) ms,
        // so its latency from its arrival at 10 k ms is 15 + 5 k ms.
        var settings = ScenarioSettings.Official(InferenceScenario.MultiStream, samplesPerQuery: 3, bound: 10 * Ms) with
        {
            MinQueryCount = 20, MinDuration = TimeSpan.Zero,
        };
        var (run, system) = Run(settings, _ => 15 * Ms);
        Assert.Equal(Enumerable.Range(0, 20).Select(k => (15 + 5 * k) / 1000.0), run.Latencies.Select(l => Math.Round(l, 9)));
        Assert.All(system.Calls, c => Assert.Equal(3, c.Length));
        Assert.Contains("exceeds the interval 10 ms (0 of 20 queries within it)", LoadGenVerdict.Judge(run).ToString());

        // A system within the interval: every query waits for nothing.
        var (fast, _) = Run(settings, _ => 4 * Ms);
        Assert.All(fast.Latencies, l => Assert.Equal(0.004, l, 9));
        Assert.True(LoadGenVerdict.Judge(fast).Valid);
    }

    [Fact]
    public void Scheduled_runs_last_at_least_the_minimum_duration()
    {
        var settings = ScenarioSettings.Smoke(InferenceScenario.Server, queriesPerSecond: 1000) with { MinQueryCount = 10, MinDuration = TimeSpan.FromSeconds(3) };
        var (run, _) = Run(settings, _ => 0.1 * Ms);
        Assert.True(run.Duration >= settings.MinDuration, $"{run.Duration}");
        Assert.InRange(run.QueryCount, 2700, 3300); // about 3 s of arrivals at 1000/s
        Assert.True(LoadGenVerdict.Judge(run).Valid);
    }

    [Fact]
    public void Server_queries_that_arrived_while_the_system_was_busy_run_together_up_to_the_batch_limit()
    {
        var settings = ScenarioSettings.Smoke(InferenceScenario.Server, queriesPerSecond: 2000) with { MinQueryCount = 400, MinDuration = TimeSpan.Zero };
        var (one, oneSystem) = Run(settings, n => 2 * Ms, maxServerBatch: 1);
        var (batched, batchedSystem) = Run(settings, n => 2 * Ms, maxServerBatch: 8);
        Assert.All(oneSystem.Calls, c => Assert.Single(c));
        Assert.Contains(batchedSystem.Calls, c => c.Length > 1);
        Assert.All(batchedSystem.Calls, c => Assert.InRange(c.Length, 1, 8));
        Assert.Equal(400, batched.QueryCount);
        // 2000 queries/s at 2 ms each cannot keep up one at a time; in batches it can.
        Assert.True(batched.PercentileLatency < one.PercentileLatency / 10, $"batched p99 {batched.PercentileLatency}, one at a time {one.PercentileLatency}");
    }

    [Fact]
    public void Smoke_settings_are_labelled_and_official_ones_are_not()
    {
        foreach (var scenario in Enum.GetValues<InferenceScenario>())
        {
            var official = ScenarioSettings.Official(scenario, queriesPerSecond: 10);
            var smoke = ScenarioSettings.Smoke(scenario, queriesPerSecond: 10);
            Assert.Equal("official", official.Label);
            Assert.Equal("smoke", smoke.Label);
            Assert.True(smoke.MinQueryCount <= official.MinQueryCount && smoke.MinDuration < official.MinDuration);
            Assert.Null(official.Problem());
            Assert.Null(smoke.Problem());
        }
        // Cutting any minimum makes a run smoke; raising one does not.
        Assert.Equal("smoke", (ScenarioSettings.Official(InferenceScenario.SingleStream) with { MinQueryCount = 1000 }).Label);
        Assert.Equal("smoke", (ScenarioSettings.Official(InferenceScenario.Offline) with { MinDuration = TimeSpan.FromSeconds(59) }).Label);
        Assert.Equal("official", (ScenarioSettings.Official(InferenceScenario.SingleStream) with { MinQueryCount = 5000 }).Label);
        // LoadGen's numbers (ALGORITHMS.md section 11).
        Assert.Equal((1024L, 60.0, 0.90), (ScenarioSettings.Official(InferenceScenario.SingleStream).MinQueryCount,
            ScenarioSettings.Official(InferenceScenario.SingleStream).MinDuration.TotalSeconds, ScenarioSettings.Official(InferenceScenario.SingleStream).LatencyPercentile));
        Assert.Equal(270_336, ScenarioSettings.Official(InferenceScenario.Server, queriesPerSecond: 1).MinQueryCount);
        Assert.Equal(0.99, ScenarioSettings.Official(InferenceScenario.MultiStream).LatencyPercentile);
        Assert.Equal(24_576, ScenarioSettings.Official(InferenceScenario.Offline).MinSampleCount);
    }

    [Fact]
    public void Accuracy_mode_runs_every_sample_once_and_counts_correct_predictions()
    {
        var clock = new SimulatedClock();
        var labels = Enumerable.Range(0, 103).Select(i => i % 10).ToArray();
        var system = new FakeSystem(clock, _ => Ms, predict: i => i % 3 == 0 ? i % 10 : -1);
        var result = AccuracyMode.Run(system, labels, samplesPerQuery: 8);

        Assert.Equal(Enumerable.Range(0, 103), system.Calls.SelectMany(c => c));
        Assert.Equal(13, system.Calls.Count);
        Assert.Equal(35, result.Correct); // 0, 3, ..., 102
        Assert.Equal(35 / 103.0, result.Accuracy, 12);
    }

    [Fact]
    public void Capacity_search_finds_the_largest_passing_load()
    {
        Assert.Equal(37, CapacitySearch.LargestPassing(4096, n => n <= 37));
        Assert.Equal(64, CapacitySearch.LargestPassing(64, _ => true));
        Assert.Equal(0, CapacitySearch.LargestPassing(64, _ => false));
        var probes = new List<double>();
        double rate = CapacitySearch.HighestPassingRate(10, 1, 1e5, 0.05, r => { probes.Add(r); return r <= 123.4; });
        Assert.InRange(rate, 123.4 / 1.05, 123.4);
        Assert.Equal(0, CapacitySearch.HighestPassingRate(10, 1, 1e5, 0.05, _ => false));
        Assert.InRange(CapacitySearch.HighestPassingRate(100, 1, 1e5, 0.05, r => r <= 3.3), 3.3 / 1.05, 3.3);
    }
}
