namespace Orchestrator.Trainer.Inference.LoadGen;

/// <summary>
/// Issues a scenario's queries to a system under test and records each query's latency. The system runs one batch
/// of work at a time (the caller's thread), so a query that arrives while it is busy waits, and that wait is part of
/// its latency: multi-stream and server latencies run from the scheduled arrival, as LoadGen measures them.
/// </summary>
/// <remarks>
/// Issuing stops once the minimum query count is reached and the minimum duration has passed (scheduled scenarios:
/// once a query arriving at or after the minimum duration was issued, so the run always lasts that long), or at
/// <see cref="ScenarioSettings.MaxDuration"/>. Server queries that have already arrived when the system becomes free
/// are run together, up to <c>maxServerBatch</c> (a server's usual dynamic batching; 1 turns it off).
/// </remarks>
public sealed class LoadGenRunner
{
    private readonly ILoadGenClock clock;
    private readonly ISystemUnderTest system;
    private readonly int maxServerBatch;

    /// <param name="clock">The time the run is measured in.</param>
    /// <param name="system">Runs the samples.</param>
    /// <param name="maxServerBatch">Most server queries run together; 1 = one at a time.</param>
    public LoadGenRunner(ILoadGenClock clock, ISystemUnderTest system, int maxServerBatch = 1)
    {
        if (maxServerBatch < 1) throw new ArgumentOutOfRangeException(nameof(maxServerBatch), maxServerBatch, "must be >= 1");
        this.clock = clock;
        this.system = system;
        this.maxServerBatch = maxServerBatch;
    }

    /// <summary>Runs <paramref name="queries"/> (see <see cref="QueryGenerator"/>) under <paramref name="settings"/>.</summary>
    public LoadGenRun Run(ScenarioSettings settings, IEnumerable<Query> queries)
    {
        if (settings.Problem() is { } problem) throw new ArgumentException(problem, nameof(settings));
        var latencies = new List<double>();
        long samples = 0;
        bool scheduled = settings.Scheduled, hitMax = false;
        var start = clock.Now;
        var last = start;
        var lastArrival = TimeSpan.MinValue;
        using var source = queries.GetEnumerator();
        Query? Next() => source.MoveNext() ? source.Current : null;
        var pending = Next();
        bool MinimumsMet(long issued) => issued >= settings.MinQueryCount &&
            (scheduled ? lastArrival >= settings.MinDuration : clock.Now - start >= settings.MinDuration);

        while (pending is not null && !MinimumsMet(latencies.Count))
        {
            var due = scheduled ? pending.Arrival : clock.Now - start;
            if (settings.MaxDuration is { } max && (due >= max || clock.Now - start >= max))
            {
                hitMax = true;
                break;
            }
            var batch = new List<Query> { pending };
            lastArrival = pending.Arrival;
            pending = Next();
            var issued = scheduled ? start + batch[0].Arrival : clock.Now;
            clock.WaitUntil(issued);
            while (settings.Scenario == InferenceScenario.Server && batch.Count < maxServerBatch && pending is not null
                && start + pending.Arrival <= clock.Now && !MinimumsMet(latencies.Count + batch.Count))
            {
                batch.Add(pending);
                lastArrival = pending.Arrival;
                pending = Next();
            }

            system.Run(batch.Count == 1 ? batch[0].Samples : batch.SelectMany(q => q.Samples).ToArray());
            var done = clock.Now;
            foreach (var query in batch)
            {
                latencies.Add((done - (scheduled ? start + query.Arrival : issued)).TotalSeconds);
                samples += query.Samples.Length;
            }
            last = done;
            if (settings.Scenario == InferenceScenario.Offline) break; // one query
        }
        return new LoadGenRun(settings, latencies, samples, last - start, hitMax);
    }
}
