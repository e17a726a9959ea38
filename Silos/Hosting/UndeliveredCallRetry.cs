using Orleans.Runtime;
using Orleans.Runtime.Messaging;
using Polly;
using Polly.Retry;

namespace Orchestrator.Silos.Hosting;

/// <summary>
/// Retries a read whose message never reached its grain because the silo hosting that grain was lost and the
/// cluster has not evicted it yet: the gateway answers "unable to connect to S..." until the membership declares the
/// silo dead (about a second with our membership options, longer on a loaded machine) and the grain activates on a
/// live silo. Only reads go through this, so a retry can never apply a command twice; a call that failed for any
/// other reason is not retried.
/// </summary>
/// <param name="rideOut">How long undelivered calls are retried before the last failure is reported.</param>
public sealed class UndeliveredCallRetry(TimeSpan rideOut)
{
    /// <summary>The default ride-out: several membership eviction rounds on a machine whose cores are busy training.</summary>
    public static readonly TimeSpan DefaultRideOut = TimeSpan.FromSeconds(30);

    /// <summary>How long undelivered calls are retried.</summary>
    public TimeSpan RideOut { get; } = rideOut > TimeSpan.Zero ? rideOut : throw new ArgumentOutOfRangeException(nameof(rideOut), "must be positive");

    /// <summary>Runs <paramref name="call"/>, again while it fails undelivered and <see cref="RideOut"/> has not passed.</summary>
    public async Task<T> RunAsync<T>(Func<Task<T>> call)
    {
        ArgumentNullException.ThrowIfNull(call);
        var started = TimeProvider.System.GetTimestamp();
        var pipeline = new ResiliencePipelineBuilder<T>()
            .AddRetry(new RetryStrategyOptions<T>
            {
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } e && IsUndelivered(e)
                    && TimeProvider.System.GetElapsedTime(started) < RideOut),
                MaxRetryAttempts = int.MaxValue,
                Delay = TimeSpan.FromMilliseconds(250),
                MaxDelay = TimeSpan.FromSeconds(2),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
            })
            .Build();
        return await pipeline.ExecuteAsync(async _ => await call());
    }

    /// <summary>
    /// Whether <paramref name="e"/> (or an exception inside it) says the message was not delivered to a live silo:
    /// a gateway's rejection, a connection that could not be made, or a target silo known to be unavailable.
    /// </summary>
    public static bool IsUndelivered(Exception e)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
            if (inner is OrleansMessageRejectionException or ConnectionFailedException or SiloUnavailableException)
                return true;
        return false;
    }
}
