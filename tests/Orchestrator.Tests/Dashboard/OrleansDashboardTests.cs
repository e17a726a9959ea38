using System.Net;
using Orchestrator.Silos.Config;
using Orchestrator.Silos.Dashboard;
using Orchestrator.Silos.Hosting;
using Orchestrator.Tests.Cli;
using Orchestrator.Tests.ControlPlane;
using Orchestrator.Tests.Observability;

namespace Orchestrator.Tests.Dashboard;

/// <summary>
/// The Orleans dashboard <c>up</c> serves (the <c>dashboard</c> section of the silo config): its config rules, and a real
/// two-silo cluster on redis-server whose dashboard, rendered by headless Chromium, lists both silos and the grain types of
/// a job that ran on it.
/// </summary>
public sealed class OrleansDashboardTests
{
    private const string ClusterId = "dash-test";
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [Fact]
    public void Without_a_dashboard_section_there_is_no_dashboard_and_an_empty_one_is_loopback_8080()
    {
        Assert.Null(SiloConfigLoader.Parse("slots: 2\n", "silo.yaml").Dashboard);
        Assert.Null(SiloConfigLoader.Parse("dashboard: {enabled: false, port: 9999}\n", "silo.yaml").Dashboard);

        var config = SiloConfigLoader.Parse("dashboard: {}\n", "silo.yaml").Dashboard;

        Assert.Equal(new DashboardConfig(IPAddress.Loopback, DashboardConfig.DefaultPort), config);
        Assert.Equal("http://127.0.0.1:8080/", config!.Url);
        var chosen = SiloConfigLoader.Parse("dashboard: {address: '::1', port: 18080}\n", "silo.yaml").Dashboard;
        Assert.Equal("http://[::1]:18080/", chosen!.Url);
    }

    [Fact]
    public void Bad_dashboard_values_are_named_with_their_line()
    {
        var error = Assert.Throws<SiloConfigException>(() => SiloConfigLoader.Parse("""
            silo: {port: 11111, gateway_port: 30000}
            metrics_port: 9390
            dashboard:
              address: localhost
              port: 70000
              colour: blue
            """, "silo.yaml"));
        Assert.Contains("dashboard.address: expected an IP address (e.g. 127.0.0.1), got 'localhost' (line 4)", error.Message);
        Assert.Contains("dashboard.port: must be a port number 1..65535, got 70000 (line 5)", error.Message);
        Assert.Contains("dashboard.colour: unknown field", error.Message);

        foreach (var (port, expected) in new[] { (30000, "must differ from silo.port (11111) and silo.gateway_port (30000)"), (9395, "must lie outside 9390..9399") })
        {
            var clash = Assert.Throws<SiloConfigException>(() => SiloConfigLoader.Parse(
                $"silo: {{port: 11111, gateway_port: 30000}}\nmetrics_port: 9390\ndashboard: {{port: {port}}}\n", "silo.yaml"));
            Assert.Contains($"dashboard.port: {expected}", clash.Message);
        }
        Assert.NotNull(SiloConfigLoader.Parse("metrics_port: 0\ndashboard: {port: 9395}\n", "silo.yaml").Dashboard); // no metrics, no clash
    }

    [Fact]
    public void Beyond_loopback_the_dashboard_is_refused_with_tls_and_warned_about_without()
    {
        const string tls = "tls: {certificate: silo.pem, ca: ca.pem}\n";
        var refused = Assert.Throws<SiloConfigException>(() => SiloConfigLoader.Parse(tls + "dashboard: {address: 10.1.2.3}\n", "silo.yaml"));
        Assert.Contains("dashboard.address: 10.1.2.3 is not a loopback address", refused.Message);
        Assert.Contains("kubectl port-forward", refused.Message);
        var withTls = SiloConfigLoader.Parse(tls + "dashboard: {address: 127.0.0.1}\n", "silo.yaml");
        Assert.Null(DashboardExposure.Warning(withTls));

        var open = SiloConfigLoader.Parse("dashboard: {address: 0.0.0.0, port: 8081}\n", "silo.yaml");
        var warning = DashboardExposure.Warning(open);
        Assert.NotNull(warning);
        Assert.StartsWith("warning: dashboard.address 0.0.0.0 is not a loopback address: anyone who reaches port 8081", warning);
        Assert.Equal("http://127.0.0.1:8081/", open.Dashboard!.Url);
        Assert.Null(DashboardExposure.Warning(SiloConfigLoader.Parse("dashboard: {}\n", "silo.yaml")));
    }

    [Fact]
    public void A_taken_dashboard_port_stops_up_before_the_silo_starts_naming_the_field()
    {
        using var dir = new TempDirectory();
        var ports = FreePorts.Consecutive(3);
        using var taken = FreePorts.Occupy(ports + 2);
        Assert.Contains("already in use", DashboardPortCheck.Problem(new DashboardConfig(IPAddress.Loopback, ports + 2)));
        Assert.Null(DashboardPortCheck.Problem(new DashboardConfig(IPAddress.Loopback, ports + 1)));
        var config = dir.File("silo.yaml");
        File.WriteAllText(config, $"silo: {{port: {ports}, gateway_port: {ports + 1}}}\nmetrics_port: 0\nruns_root: runs\ndashboard: {{port: {ports + 2}}}\n");

        var result = CliRunner.Run(dir.Path, ["up", "--config", config], Limit);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"dashboard.port: {ports + 2} on 127.0.0.1 is already in use by another process", result.Output);
        Assert.DoesNotContain("silo up", result.Output);
        Assert.DoesNotContain("   at ", result.Output); // a message, no stack trace
    }

    [Fact]
    public void Only_a_silo_with_a_dashboard_gets_a_web_server()
    {
        var settings = new SiloSettings { ClusterId = ClusterId, SiloPort = 11111, GatewayPort = 30000 };
        using (var plain = SiloSetup.BuildHost(settings))
            Assert.IsNotType<Microsoft.AspNetCore.Builder.WebApplication>(plain);
        using var served = SiloSetup.BuildHost(settings with { Dashboard = new IPEndPoint(IPAddress.Loopback, 8080) });
        Assert.IsType<Microsoft.AspNetCore.Builder.WebApplication>(served);
    }

    [RedisFact]
    public void The_dashboard_in_headless_chromium_shows_both_silos_and_the_grain_types_of_a_job()
    {
        using var dir = new TempDirectory();
        using var redis = RedisServer.Start(dir.Path);
        var (a, b) = (FreePorts.Consecutive(3), FreePorts.Consecutive(2));
        using var served = UpSilo.Start(dir.Path,
            $"cluster: {{id: {ClusterId}, redis: '{redis.Endpoint}'}}\nsilo: {{port: {a}, gateway_port: {a + 1}}}\nslots: 2\nmetrics_port: 0\n" +
            $"dashboard: {{port: {a + 2}}}\n", "silo-a.yaml");
        using var other = UpSilo.Start(dir.Path,
            $"cluster: {{id: {ClusterId}, redis: '{redis.Endpoint}'}}\nsilo: {{port: {b}, gateway_port: {b + 1}}}\nslots: 2\nmetrics_port: 0\n", "silo-b.yaml");
        var url = $"http://127.0.0.1:{a + 2}/";
        Assert.Contains($"dashboard: {url}", served.Output);
        Assert.DoesNotContain("dashboard:", other.Output);

        var spec = CliSpecs.Write(dir, ControlPlaneSpecs.Synthetic("dash-job", epochs: 1), "job.yaml");
        var submitted = CliRunner.Run(dir.Path, ["submit", spec, "--workers", "1", "--silo", served.Gateway, "--cluster", ClusterId], Limit);
        Assert.True(submitted.ExitCode == 0, submitted.ToString());
        Assert.True(ClusterCliTests.SpinUntil(() => CliRunner.Run(dir.Path, ["status", "dash-job", "--silo", served.Gateway, "--cluster", ClusterId], Limit)
            .Output.Contains("succeeded", StringComparison.Ordinal), TimeSpan.FromSeconds(90)), "the job did not succeed");

        // The silos page: both members of the cluster, by address (the other silo reports through its own grain service).
        var silos = Rendered(dir, url + "#/silos", dom => dom.Contains($"127.0.0.1:{b}@", StringComparison.Ordinal));
        Assert.Contains($"127.0.0.1:{a}@", silos);
        Assert.Contains($"127.0.0.1:{b}@", silos);
        // The grains page: the job's grain types, each a link to its own page.
        var grains = Rendered(dir, url + "#/grains", dom => dom.Contains(">JobGrain<", StringComparison.Ordinal));
        foreach (var grain in new[] { "JobGrain", "SchedulerGrain" })
            Assert.Matches($@"<a href=""#/grain/Orchestrator\.Scheduler\.Grains\.{grain}""[^>]*>{grain}</a>", grains);
        Assert.Contains("Orleans Dashboard", grains);
    }

    /// <summary>The DOM of <paramref name="url"/> once it satisfies <paramref name="complete"/> (the dashboard fills its tables
    /// from its JSON API after loading; a slow first answer gets a few more loads), else the last one.</summary>
    private static string Rendered(TempDirectory dir, string url, Func<string, bool> complete)
    {
        var dom = "";
        for (var attempt = 0; attempt < 4 && !complete(dom); attempt++)
            dom = HeadlessChromium.DumpDom(dir.Path, url);
        return dom;
    }
}
