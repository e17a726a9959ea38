using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Prometheus;

namespace Orchestrator.Trainer.Telemetry;

/// <summary>
/// A worker's <c>http://HOST:PORT/metrics</c>. Rank R first tries <c>base + R</c>; when that port is taken
/// it tries <c>base + R + k·world_size</c> (k = 1, 2, ...) up to <see cref="FallbackRange"/> above its first
/// port, so workers on one machine never take each other's first choice. The port chosen is logged;
/// when none is free a warning names the ports and the worker trains without metrics: metrics never
/// end a job.
/// </summary>
public sealed class MetricsEndpoint : IDisposable
{
    /// <summary>How far above a worker's first port the fallback search goes.</summary>
    public const int FallbackRange = 100;

    private readonly MetricServer server;

    private MetricsEndpoint(MetricServer server, string host, int port)
    {
        this.server = server;
        Host = host;
        Port = port;
    }

    /// <summary>Address listened on.</summary>
    public string Host { get; }

    /// <summary>Port chosen.</summary>
    public int Port { get; }

    /// <summary>The scrape URL.</summary>
    public string Url => $"http://{(Host.Contains(':') ? $"[{Host}]" : Host)}:{Port.ToString(CultureInfo.InvariantCulture)}/metrics";

    /// <summary>The ports rank <paramref name="rank"/> tries, in order.</summary>
    public static IEnumerable<int> Candidates(int basePort, int rank, int worldSize)
    {
        int first = basePort + rank, stride = Math.Max(1, worldSize);
        for (int port = first; port <= first + FallbackRange && port <= IPEndPoint.MaxPort; port += stride)
            yield return port;
    }

    /// <summary>
    /// Serves <paramref name="registry"/> on the first free candidate port and reports it through
    /// <paramref name="log"/>; null (after a warning through <paramref name="warn"/>) when none could be bound.
    /// </summary>
    public static MetricsEndpoint? TryStart(CollectorRegistry registry, string host, int basePort, int rank, int worldSize,
        Action<string> log, Action<string> warn) =>
        TryStart(registry, host, [.. Candidates(basePort, rank, worldSize)], $"rank {rank}", $"rank {rank} trains without a metrics endpoint", log, warn);

    /// <summary>
    /// Serves <paramref name="registry"/> on the first bindable port of <paramref name="candidates"/> (logged as
    /// <c>metrics: URL (WHO)</c>, with a note when the first was taken); null after a warning that ends with
    /// <paramref name="withoutEndpoint"/> when none could be bound.
    /// </summary>
    public static MetricsEndpoint? TryStart(CollectorRegistry registry, string host, IReadOnlyList<int> candidates, string who, string withoutEndpoint,
        Action<string> log, Action<string> warn)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        string? lastError = null;
        var tried = new List<int>();
        foreach (int port in candidates)
        {
            tried.Add(port);
            if (!Bindable(host, port, out lastError)) continue;
            var server = new MetricServer(hostname: host, port: port, url: "metrics/", registry: registry);
            try
            {
                server.Start();
            }
            catch (Exception e) // HttpListenerException when taken between the probe and the start; any failure only costs the metrics
            {
                lastError = e.Message;
                continue;
            }
            var endpoint = new MetricsEndpoint(server, host, port);
            if (port != candidates[0])
                log($"metrics: port {candidates[0]} is in use; using {port} instead ({who})");
            log($"metrics: {endpoint.Url} ({who})");
            return endpoint;
        }
        string range = tried.Count switch
        {
            0 => candidates.Count > 0 ? $"{candidates[0]}" : "(none)",
            1 => $"{tried[0]}",
            _ => $"{tried[0]}..{tried[^1]}{(tried[1] - tried[0] == 1 ? "" : $" (every {tried[1] - tried[0]})")}",
        };
        warn($"warning: metrics: could not listen on {host} port {range}{(lastError is null ? "" : $": {lastError}")}; {withoutEndpoint}");
        return null;
    }

    /// <summary>Whether a listener can bind <paramref name="host"/>:<paramref name="port"/> right now.</summary>
    private static bool Bindable(string host, int port, out string? error)
    {
        error = null;
        if (!IPAddress.TryParse(host, out var address))
            return true; // a host name: let the HTTP listener resolve it and report
        try
        {
            var probe = new TcpListener(address, port);
            probe.Start();
            probe.Stop();
            return true;
        }
        catch (SocketException e)
        {
            error = e.Message;
            return false;
        }
    }

    /// <summary>Stops serving.</summary>
    public void Dispose() => server.Dispose();
}
