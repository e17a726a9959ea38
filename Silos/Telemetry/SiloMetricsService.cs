using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orchestrator.Contracts.Grains;
using Orchestrator.Contracts.Models;
using Orchestrator.Scheduler.Lifecycle;
using Orchestrator.Silos.Health;
using Orchestrator.Trainer.Telemetry;
using Prometheus;

namespace Orchestrator.Silos.Telemetry;

/// <summary>
/// Serves the silo's <c>/metrics</c>: before anything else starts it attaches prometheus-net's <c>MeterAdapter</c> to
/// Orleans' own meters (<see cref="OrleansMeterPrefix"/>; attached at the first scrape it would lose what came
/// before) and binds the endpoint (<see cref="SiloMetricsOptions"/>: the next free port when taken, logged; none free
/// = a warning and no endpoint: metrics never stop the silo); once the silo runs it polls the grains every
/// <see cref="SiloMetricsOptions.Interval"/> (the job registry, each job's status, the scheduler's snapshot) and
/// writes <see cref="SiloMetrics"/>. A final job's status is read once and kept. The same listener answers the health paths
/// (<see cref="HealthEndpoint"/>).
/// </summary>
internal sealed class SiloMetricsService(IGrainFactory grains, SiloMetricsOptions options, TimeProvider clock, IServiceProvider services)
    : BackgroundService, IHostedLifecycleService
{
    /// <summary>Meters exported next to the silo's own metrics (as <c>microsoft_orleans_*</c>).</summary>
    public const string OrleansMeterPrefix = "Microsoft.Orleans";

    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(2);
    private readonly SiloMetrics metrics = new();
    private readonly ConcurrentDictionary<string, JobStatus> statuses = new();
    private IDisposable? meterAdapter;
    private MetricsEndpoint? endpoint;
    private HealthEndpoint? health;
    private volatile bool siloStarted;

    /// <summary>Before every hosted service (the silo included) starts: meters attached, endpoint bound.</summary>
    public Task StartingAsync(CancellationToken cancellationToken)
    {
        try
        {
            meterAdapter = MeterAdapter.StartListening(new MeterAdapterOptions
            {
                Registry = metrics.Registry,
                // prometheus-net 8.2.1 ignores Registry while MetricFactory is set, and it defaults to the default registry's.
                MetricFactory = Metrics.WithCustomRegistry(metrics.Registry),
                InstrumentFilterPredicate = instrument => instrument.Meter.Name.StartsWith(OrleansMeterPrefix, StringComparison.Ordinal),
            });
        }
        catch (Exception e) // metrics never stop the silo
        {
            (options.Warn ?? Console.Error.WriteLine)($"warning: metrics: Orleans' meters are not exported ({e.GetType().Name}: {e.Message})");
        }
        var candidates = Enumerable.Range(options.Port, SiloMetricsOptions.FallbackRange + 1).Where(p => p <= 65535).ToList();
        endpoint = MetricsEndpoint.TryStart(metrics.Registry, options.Host, candidates, "silo", "the silo runs without a metrics endpoint",
            options.Log ?? Console.WriteLine, options.Warn ?? Console.Error.WriteLine);
        // The health paths share the metrics listener (the probes of k8s/base point at that port).
        if (endpoint is not null)
            health = HealthEndpoint.TryStart(endpoint.Host, endpoint.Port, () => services.GetService<SiloReadiness>()?.Problem(),
                options.Warn ?? Console.Error.WriteLine);
        return Task.CompletedTask;
    }

    /// <summary>Every hosted service (the silo included) has started: polling may begin.</summary>
    public Task StartedAsync(CancellationToken cancellationToken)
    {
        siloStarted = true;
        return Task.CompletedTask;
    }

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        Release();
        return Task.CompletedTask;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Interval, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                if (!siloStarted) continue;
                await PollAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One round: read the grains, write the metrics. A failure keeps the previous values and counts an error.</summary>
    private async Task PollAsync(CancellationToken cancellation)
    {
        bool failed = false;
        try
        {
            var ids = await grains.GetGrain<IJobRegistryGrain>(IJobRegistryGrain.DefaultKey).ListAsync()
                .WaitAsync(CallTimeout, cancellation).ConfigureAwait(false);
            var reads = ids.Where(id => !(statuses.TryGetValue(id, out var known) && JobTransitions.IsTerminal(known.Phase)))
                .Select(async id =>
                {
                    try
                    {
                        statuses[id] = await grains.GetGrain<IJobGrain>(id).GetStatusAsync().WaitAsync(CallTimeout, cancellation).ConfigureAwait(false);
                    }
                    catch (Exception) when (!cancellation.IsCancellationRequested)
                    {
                        failed = true; // this job keeps its previous values
                    }
                });
            await Task.WhenAll(reads).ConfigureAwait(false);
            SchedulerSnapshot? scheduler = null;
            try
            {
                scheduler = await grains.GetGrain<ISchedulerGrain>(ISchedulerGrain.DefaultKey).GetSnapshotAsync()
                    .WaitAsync(CallTimeout, cancellation).ConfigureAwait(false);
            }
            catch (Exception) when (!cancellation.IsCancellationRequested)
            {
                failed = true;
            }
            var known = ids.Select(id => statuses.GetValueOrDefault(id)).OfType<JobStatus>().ToList();
            metrics.Apply(SiloMetricsSample.From(known, scheduler, clock.GetUtcNow()));
        }
        catch (Exception) when (!cancellation.IsCancellationRequested)
        {
            failed = true;
        }
        if (failed) metrics.PollFailed();
    }

    public override void Dispose()
    {
        Release();
        base.Dispose();
    }

    private void Release()
    {
        health?.Dispose();
        health = null;
        endpoint?.Dispose();
        endpoint = null;
        meterAdapter?.Dispose();
        meterAdapter = null;
    }
}
