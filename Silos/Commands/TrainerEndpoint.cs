using Orchestrator.Spec;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Telemetry;

namespace Orchestrator.Silos.Commands;

/// <summary>
/// One worker's metrics, served: its <see cref="TrainerMetrics"/>, the observer that feeds them, and the
/// <c>/metrics</c> endpoint on <c>metrics.port + rank</c> (see <see cref="MetricsEndpoint"/> for the fallback).
/// </summary>
internal sealed class TrainerEndpoint : IDisposable
{
    private readonly MetricsEndpoint endpoint;

    private TrainerEndpoint(MetricsEndpoint endpoint, TrainerMetrics metrics)
    {
        this.endpoint = endpoint;
        Observer = new MetricsObserver(metrics);
    }

    /// <summary>Feeds the training loop's progress into the served metrics.</summary>
    public ITrainingObserver Observer { get; }

    /// <summary>
    /// Starts this worker's endpoint; null when metrics are off (port 0) or no port could be bound (a
    /// warning was printed: the job trains on without metrics).
    /// </summary>
    public static TrainerEndpoint? Start(JobSpec job, WorkerWorld world)
    {
        var spec = job.MetricsOrDefault;
        if (!spec.Enabled) return null;
        string codec = (world.Size == 1 ? CodecKind.None : job.CompressionOrDefault.Codec).SpecName();
        var metrics = new TrainerMetrics(job.Name, world.Rank, world.Size, codec);
        var endpoint = MetricsEndpoint.TryStart(metrics.Registry, spec.Host, spec.Port, world.Rank, world.Size,
            log: Console.WriteLine, warn: Console.Error.WriteLine);
        return endpoint is null ? null : new TrainerEndpoint(endpoint, metrics);
    }

    public void Dispose() => endpoint.Dispose();
}
