using System.Net.Http;
using System.Text.Json;

namespace Orchestrator.Tests.Observability;

/// <summary>
/// Debian's real <c>prometheus</c> on a loopback port with a scrape config the test wrote, and its HTTP
/// API (<c>/api/v1/query</c>, label values). Dispose kills it.
/// </summary>
internal sealed class PrometheusServer : IDisposable
{
    public const string Binary = "/usr/bin/prometheus";

    private readonly BackgroundProcess process;
    private readonly HttpClient http;

    private PrometheusServer(BackgroundProcess process, int port)
    {
        this.process = process;
        http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
    }

    /// <summary>Starts Prometheus with <paramref name="configYaml"/>, storing under <paramref name="directory"/>, and waits until it is ready.</summary>
    public static PrometheusServer Start(string configYaml, string directory, int port)
    {
        if (!File.Exists(Binary))
            Assert.Fail($"{Binary} is missing: the dashboard proof needs Debian's Prometheus (apt-get install prometheus; CI installs it in .ci/run)");
        var config = System.IO.Path.Combine(directory, "prometheus.yml");
        File.WriteAllText(config, configYaml);
        var process = BackgroundProcess.Start(Binary,
            [$"--config.file={config}", $"--storage.tsdb.path={System.IO.Path.Combine(directory, "tsdb")}", $"--web.listen-address=127.0.0.1:{port}"],
            "apt-get install prometheus");
        var server = new PrometheusServer(process, port);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                server.Dispose();
                Assert.Fail($"prometheus exited at start:\n{process.Output}");
            }
            try
            {
                if (server.http.GetAsync("/-/ready").GetAwaiter().GetResult().IsSuccessStatusCode) return server;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            Thread.Sleep(200);
        }
        var output = process.Output;
        server.Dispose();
        throw new TimeoutException($"prometheus not ready after 30 s:\n{output}");
    }

    /// <summary>What Prometheus printed so far.</summary>
    public string Output => process.Output;

    /// <summary>The result array of an instant query (empty when the expression has no data).</summary>
    public JsonElement Query(string expr)
    {
        var data = Get($"/api/v1/query?query={Uri.EscapeDataString(expr)}");
        return data.GetProperty("result");
    }

    /// <summary>Values of <paramref name="label"/> over the series that match <paramref name="match"/> (all when null).</summary>
    public IReadOnlyList<string> LabelValues(string label, string? match = null)
    {
        var url = $"/api/v1/label/{Uri.EscapeDataString(label)}/values" + (match is null ? "" : $"?match[]={Uri.EscapeDataString(match)}");
        return Get(url).EnumerateArray().Select(v => v.GetString()!).ToList();
    }

    private JsonElement Get(string url)
    {
        var response = http.GetAsync(url).GetAwaiter().GetResult();
        var body = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"prometheus {url}: HTTP {(int)response.StatusCode}: {body}");
        using var document = JsonDocument.Parse(body);
        return document.RootElement.GetProperty("data").Clone();
    }

    public void Dispose()
    {
        http.Dispose();
        process.Dispose();
    }
}
