using Microsoft.Extensions.DependencyInjection;

namespace Orchestrator.Silos.Telemetry;

/// <summary>Registers the silo's Prometheus endpoint (<see cref="SiloMetricsService"/>).</summary>
public static class SiloMetricsExtensions
{
    /// <summary>
    /// Serves the silo's metrics and Orleans' own meters on <paramref name="options"/>' port (loopback by default);
    /// does nothing when the options are null or the port is 0.
    /// </summary>
    public static ISiloBuilder AddOrchestratorMetrics(this ISiloBuilder silo, SiloMetricsOptions? options)
    {
        ArgumentNullException.ThrowIfNull(silo);
        if (options is null || !options.Enabled) return silo;
        if (options.Port is < 0 or > 65535)
            throw new ArgumentOutOfRangeException(nameof(options), options.Port, "the silo metrics port must be 0 (off) or 1..65535");
        if (options.Interval <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(options), options.Interval, "the silo metrics interval must be positive");
        silo.Services.AddSingleton(options);
        silo.Services.AddHostedService<SiloMetricsService>();
        return silo;
    }
}
