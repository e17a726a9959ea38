using System.Net;
using Orchestrator.Silos.Health;
using Orchestrator.Tests.ControlPlane;
using Orchestrator.Tests.Observability;

namespace Orchestrator.Tests.Deployment;

/// <summary>A real <c>orchestrator up</c> silo answers the health paths on its metrics port (what the Kubernetes probes call).</summary>
public sealed class HealthEndpointTests
{
    [Fact]
    public async Task An_up_silo_answers_healthz_and_readyz_with_200_once_it_is_an_active_member()
    {
        using var dir = new TempDirectory();
        var port = FreePorts.Consecutive(3);
        using var silo = UpSilo.Start(dir.Path,
            $"cluster: {{id: health}}\nsilo: {{port: {port}, gateway_port: {port + 1}}}\nmetrics_port: {port + 2}\nslots: 1\nruns_root: runs\n");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var baseUrl = $"http://127.0.0.1:{port + 2}";
        var deadline = DateTime.UtcNow.AddSeconds(30);
        HttpResponseMessage ready;
        while (true)
        {
            ready = await http.GetAsync($"{baseUrl}{HealthPaths.Readiness}");
            if (ready.StatusCode == HttpStatusCode.OK || DateTime.UtcNow > deadline) break;
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode); // not ready yet: 503 with the reason
            await Task.Delay(200);
        }
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("ready", (await ready.Content.ReadAsStringAsync()).Trim());
        var live = await http.GetAsync($"{baseUrl}{HealthPaths.Liveness}");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"{baseUrl}/metrics")).StatusCode); // the metrics listener is unharmed
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"{baseUrl}{HealthPaths.Liveness}/nope")).StatusCode);
    }
}
