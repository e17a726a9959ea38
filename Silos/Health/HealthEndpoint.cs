using System.Globalization;
using System.Net;
using System.Text;

namespace Orchestrator.Silos.Health;

/// <summary>
/// Serves <see cref="HealthPaths.Liveness"/> and <see cref="HealthPaths.Readiness"/> on the same host and port as the silo's
/// <c>/metrics</c>. .NET's HTTP listener shares one socket among the listeners of a process that register different path
/// prefixes on one address and port, so this listener sits beside prometheus-net's metric server without a port of its
/// own. Liveness answers 200 while the process serves requests; readiness answers 200 <c>ready</c> or 503 with the reason
/// (<see cref="SiloReadiness"/>). Any other path under these prefixes is 404.
/// </summary>
public sealed class HealthEndpoint : IDisposable
{
    private readonly HttpListener listener;
    private readonly Func<string?> readiness;
    private readonly Task loop;

    private HealthEndpoint(HttpListener listener, Func<string?> readiness)
    {
        this.listener = listener;
        this.readiness = readiness;
        loop = Task.Run(ServeAsync);
    }

    /// <summary>Starts serving on <paramref name="host"/>:<paramref name="port"/>; null after a warning when it cannot
    /// (health never stops the silo).</summary>
    public static HealthEndpoint? TryStart(string host, int port, Func<string?> readiness, Action<string> warn)
    {
        ArgumentNullException.ThrowIfNull(readiness);
        ArgumentNullException.ThrowIfNull(warn);
        var listener = new HttpListener();
        var authority = $"{(host.Contains(':') ? $"[{host}]" : host)}:{port.ToString(CultureInfo.InvariantCulture)}";
        listener.Prefixes.Add($"http://{authority}{HealthPaths.Liveness}/");
        listener.Prefixes.Add($"http://{authority}{HealthPaths.Readiness}/");
        try
        {
            listener.Start();
        }
        catch (Exception e) when (e is HttpListenerException or InvalidOperationException or System.Net.Sockets.SocketException)
        {
            warn($"warning: health: could not serve {HealthPaths.Liveness} and {HealthPaths.Readiness} on {authority}: {e.Message}");
            listener.Close();
            return null;
        }
        return new HealthEndpoint(listener, readiness);
    }

    private async Task ServeAsync()
    {
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return; // stopped
            }
            try
            {
                var (code, body) = Answer(context.Request.Url?.AbsolutePath ?? "");
                var bytes = Encoding.UTF8.GetBytes(body + "\n");
                context.Response.StatusCode = code;
                context.Response.ContentType = "text/plain; charset=utf-8";
                context.Response.ContentLength64 = bytes.Length;
                await context.Response.OutputStream.WriteAsync(bytes).ConfigureAwait(false);
                context.Response.Close();
            }
            catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException or InvalidOperationException)
            {
                // the prober went away; the next request is answered as usual
            }
        }
    }

    private (int Code, string Body) Answer(string path)
    {
        var trimmed = path.TrimEnd('/');
        if (trimmed == HealthPaths.Liveness) return (200, "ok");
        if (trimmed != HealthPaths.Readiness) return (404, "not found");
        string? problem;
        try
        {
            problem = readiness();
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
        {
            problem = $"starting ({e.Message})";
        }
        return problem is null ? (200, "ready") : (503, problem);
    }

    /// <summary>Stops serving.</summary>
    public void Dispose()
    {
        if (listener.IsListening) listener.Stop();
        listener.Close();
        try { loop.Wait(TimeSpan.FromSeconds(2)); }
        catch (AggregateException) { }
    }
}
