namespace Orchestrator.Silos.Telemetry;

/// <summary>Where and how often the silo serves its Prometheus metrics (<see cref="SiloMetrics"/>).</summary>
public sealed class SiloMetricsOptions
{
    /// <summary>The default port: with its fallback range (9390..9399) below the trainers' default (9400 + rank).</summary>
    public const int DefaultPort = 9390;

    /// <summary>How far above <see cref="Port"/> the search for a free port goes (one port at a time).</summary>
    public const int FallbackRange = 9;

    /// <summary>First port tried; when taken, the next free one up to <see cref="FallbackRange"/> above (logged). 0 = no endpoint.</summary>
    public int Port { get; set; } = DefaultPort;

    /// <summary>Address listened on (loopback by default).</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>How often the grains are polled for the metric values.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Where the chosen URL is reported (default: standard output).</summary>
    public Action<string>? Log { get; set; }

    /// <summary>Where a port problem is reported (default: standard error). Metrics never stop the silo.</summary>
    public Action<string>? Warn { get; set; }

    /// <summary>Whether an endpoint is served.</summary>
    public bool Enabled => Port != 0;
}
