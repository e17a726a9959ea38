using System.Security.Cryptography.X509Certificates;
using Orchestrator.Tests.Cli;
using Orchestrator.Tests.ControlPlane;
using Orchestrator.Tests.Observability;
using static Orchestrator.Tests.Security.TestCertificates;

namespace Orchestrator.Tests.Security;

/// <summary>
/// One real <c>orchestrator up</c> with mutual TLS on free loopback ports, and the certificates of the tests: its authority,
/// the silo's, a valid client's, an expired one and one from another authority, all made here.
/// </summary>
public sealed class TlsSiloFixture : IDisposable
{
    public const string ClusterId = "tls-test";

    private readonly TempDirectory dir = new();

    public TlsSiloFixture()
    {
        using var ca = Authority("orchestrator-test-ca");
        using var other = Authority("another-ca");
        Ca = WritePem(ca, dir.Path, "ca").Certificate;
        OtherCa = WritePem(other, dir.Path, "other-ca").Certificate;
        using (var silo = Silo(ca)) SiloFiles = WritePem(silo, dir.Path, "silo");
        using (var client = Client(ca)) ClientFiles = WritePem(client, dir.Path, "client");
        using (var stranger = Client(other, "stranger")) StrangerFiles = WritePem(stranger, dir.Path, "stranger");
        using (var expired = Client(ca, "expired", DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddDays(-1))) ExpiredFiles = WritePem(expired, dir.Path, "expired");
        var port = FreePorts.Consecutive(2);
        Silo = UpSilo.Start(dir.Path,
            $"cluster: {{id: {ClusterId}}}\nsilo: {{port: {port}, gateway_port: {port + 1}}}\nslots: 2\nruns_root: runs\nmetrics_port: 0\n" +
            $"tls: {{certificate: {SiloFiles.Certificate}, key: {SiloFiles.Key}, ca: {Ca}}}\n",
            // 200 ms a step: the 32 steps of the job outlast several heartbeats (one a second) and status calls.
            environment: new Dictionary<string, string> { [Orchestrator.Trainer.Training.FaultInjection.StepDelayVariable] = "200" });
    }

    internal UpSilo Silo { get; }

    public string Directory => dir.Path;
    public string Ca { get; }
    public string OtherCa { get; }
    public (string Certificate, string Key) SiloFiles { get; }
    public (string Certificate, string Key) ClientFiles { get; }
    public (string Certificate, string Key) StrangerFiles { get; }
    public (string Certificate, string Key) ExpiredFiles { get; }

    public void Dispose()
    {
        Silo.Dispose();
        dir.Dispose();
    }
}

/// <summary>
/// Mutual TLS end to end with real processes: a client with a certificate from the cluster's authority submits a job whose
/// workers heartbeat over TLS with the certificate the silo hands them; a client without a certificate, with one from
/// another authority, or with an expired one is refused with the cause in one line (exit 2, no stack trace), and the silo
/// logs why it refused; a TLS client facing a plain silo is told so; a silo whose own certificate expired does not start.
/// </summary>
public sealed class MutualTlsTests(TlsSiloFixture fixture) : IClassFixture<TlsSiloFixture>
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);

    private CliResult Cli(string[] tls, params string[] args) =>
        CliRunner.Run(fixture.Directory, [.. args, "--silo", fixture.Silo.Gateway, "--cluster", TlsSiloFixture.ClusterId, .. tls], Limit);

    private static string[] Tls((string Certificate, string Key) files, string ca) => ["--tls-cert", files.Certificate, "--tls-key", files.Key, "--tls-ca", ca];

    [Fact]
    public void A_client_with_a_certificate_of_the_authority_submits_and_the_workers_heartbeat_over_tls()
    {
        var tls = Tls(fixture.ClientFiles, fixture.Ca);
        var spec = Path.Combine(fixture.Directory, "tls-job.yaml");
        File.WriteAllText(spec, ControlPlaneSpecs.Synthetic("tls-job"));
        var submitted = Cli(tls, "submit", spec, "--workers", "2");
        Assert.True(submitted.ExitCode == 0, submitted.ToString());
        // Heartbeats reach the job grain while it runs (the detail drops them once it ended): the workers connected through
        // the TLS gateway with the ORCHESTRATOR_TLS_* paths the silo gave them.
        var heartbeat = new System.Text.RegularExpressions.Regex(@"heartbeat\s+│\s+[^│]+ ago \(launch 1, rank \d");
        CliResult detail;
        do detail = Cli(tls, "status", "tls-job");
        while (detail.ExitCode == 0 && !heartbeat.IsMatch(detail.Output) && !detail.Output.Contains("succeeded", StringComparison.Ordinal)
               && !detail.Output.Contains("failed", StringComparison.Ordinal));
        var launcherLog = Path.Combine(fixture.Directory, "runs", "tls-job", "logs", "launcher.log");
        Assert.True(heartbeat.IsMatch(detail.Output), $"{detail}\n{string.Join('\n', File.ReadLines(launcherLog).Where(l => !l.StartsWith('[')))}");
        var watched = Cli(tls, "status", "tls-job", "--watch");
        Assert.True(watched.ExitCode == 0, watched.ToString());
        Assert.Contains("succeeded", watched.Output);
        var log = File.ReadAllText(Path.Combine(fixture.Directory, "runs", "tls-job", "logs", "launcher.log"));
        Assert.DoesNotContain("worker link", log);
    }

    [Fact]
    public void A_client_without_a_certificate_is_refused_and_told_what_to_give()
    {
        var result = Cli([], "status");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("the gateway requires mutual TLS and this client has no certificate (give --tls-cert, --tls-key and --tls-ca", result.Output);
        AssertNoStackTrace(result);
    }

    [Fact]
    public void A_client_certificate_from_another_authority_is_refused_by_the_silo()
    {
        // The client trusts the cluster's CA (so it accepts the gateway); the gateway refuses the client's certificate.
        var result = Cli(Tls(fixture.StrangerFiles, fixture.Ca), "status");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"the gateway refused this client's certificate --tls-cert ($ORCHESTRATOR_TLS_CERT) {fixture.StrangerFiles.Certificate}", result.Output);
        Assert.Contains("not issued by the configured CA (CN=orchestrator-test-ca); its issuer is CN=another-ca", result.Output);
        AssertNoStackTrace(result);
        AssertSiloLogged("the peer's certificate (CN=stranger) not issued by the configured CA");
    }

    [Fact]
    public void A_client_that_trusts_another_authority_refuses_the_gateway()
    {
        var result = Cli(Tls(fixture.StrangerFiles, fixture.OtherCa), "status");
        Assert.Equal(2, result.ExitCode);
        // Either side may be first to refuse: both verdicts name the other authority.
        Assert.Matches("the gateway's certificate \\(CN=silo\\) is refused by this client: not issued by the configured CA \\(CN=another-ca\\)|" +
            "the gateway refused this client's certificate", result.Output);
        AssertNoStackTrace(result);
    }

    [Fact]
    public void An_expired_client_certificate_is_refused_naming_its_expiry()
    {
        var result = Cli(Tls(fixture.ExpiredFiles, fixture.Ca), "status");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"the gateway refused this client's certificate --tls-cert ($ORCHESTRATOR_TLS_CERT) {fixture.ExpiredFiles.Certificate}", result.Output);
        Assert.Matches(@"\): expired on \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", result.Output);
        AssertNoStackTrace(result);
        AssertSiloLogged("the peer's certificate (CN=expired) expired on");
    }

    [Fact]
    public void A_tls_client_facing_a_plain_silo_is_told_it_does_not_speak_tls()
    {
        using var dir = new TempDirectory();
        var port = FreePorts.Consecutive(2);
        using var plain = UpSilo.Start(dir.Path, $"cluster: {{id: plain}}\nsilo: {{port: {port}, gateway_port: {port + 1}}}\nslots: 1\nruns_root: runs\nmetrics_port: 0\n");
        var result = CliRunner.Run(dir.Path, ["status", "--silo", plain.Gateway, "--cluster", "plain", .. Tls(fixture.ClientFiles, fixture.Ca)], Limit);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("the gateway does not speak TLS", result.Output);
        AssertNoStackTrace(result);
    }

    [Fact]
    public void A_silo_whose_certificate_expired_or_lacks_its_key_does_not_start()
    {
        using var dir = new TempDirectory();
        using var ca = Authority("short-lived-ca");
        var caPath = WritePem(ca, dir.Path, "ca").Certificate;
        using var expired = Issue(ca, "old-silo", [ServerAuthentication, ClientAuthentication], DateTimeOffset.UtcNow.AddDays(-9), DateTimeOffset.UtcNow.AddDays(-1));
        var files = WritePem(expired, dir.Path, "silo");
        var config = Path.Combine(dir.Path, "silo.yaml");
        var port = FreePorts.Consecutive(2);
        File.WriteAllText(config, $"silo: {{port: {port}, gateway_port: {port + 1}}}\nmetrics_port: 0\ntls: {{certificate: {files.Certificate}, key: {files.Key}, ca: {caPath}}}\n");
        var result = CliRunner.Run(dir.Path, ["up", "--config", config], Limit);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"tls.certificate {files.Certificate} (CN=old-silo", result.Output);
        Assert.Contains("expired on", result.Output);
        AssertNoStackTrace(result);

        File.WriteAllText(config, $"silo: {{port: {port}, gateway_port: {port + 1}}}\nmetrics_port: 0\ntls: {{certificate: {files.Certificate}, ca: {caPath}}}\n");
        var keyless = CliRunner.Run(dir.Path, ["up", "--config", config], Limit);
        Assert.Equal(2, keyless.ExitCode);
        Assert.Contains($"tls.certificate {files.Certificate}: no private key in the file; give tls.key", keyless.Output);
    }

    [Fact]
    public void A_worker_whose_certificate_the_gateway_refuses_says_why_and_trains_on()
    {
        using var dir = new TempDirectory();
        var spec = Path.Combine(dir.Path, "job.yaml");
        File.WriteAllText(spec, ControlPlaneSpecs.Synthetic("tls-worker"));
        // A worker as the silo would start it, but with a certificate of another authority.
        var result = CliRunner.Run(dir.Path, ["train", spec, "--out", Path.Combine(dir.Path, "out")], Limit, new Dictionary<string, string?>
        {
            [Orchestrator.Scheduler.Launchers.JobRunner.GatewayVariable] = fixture.Silo.Gateway,
            [Orchestrator.Scheduler.Launchers.JobRunner.JobVariable] = "tls-worker",
            [Orchestrator.Scheduler.Launchers.JobRunner.ClusterVariable] = TlsSiloFixture.ClusterId,
            [Orchestrator.Trainer.Training.FaultInjection.StepDelayVariable] = "500", // several seconds of training: the link tries meanwhile (200 ms was too short once under load)
            ["ORCHESTRATOR_TLS_CERT"] = fixture.StrangerFiles.Certificate,
            ["ORCHESTRATOR_TLS_KEY"] = fixture.StrangerFiles.Key,
            ["ORCHESTRATOR_TLS_CA"] = fixture.Ca,
        });
        Assert.True(result.ExitCode == 0, result.ToString()); // heartbeats are not needed to train
        Assert.Contains($"worker link (rank 0): heartbeat to {fixture.Silo.Gateway} failed (the gateway refused this client's certificate", result.Output);
        Assert.Contains("not issued by the configured CA (CN=orchestrator-test-ca); its issuer is CN=another-ca", result.Output);
    }

    [Fact]
    public void A_silo_declared_dead_says_why_in_one_line()
    {
        var line = Orchestrator.Silos.Hosting.FatalErrorExit.DeclaredDeadMessage(
            "I have been told I am dead, so this silo will stop! Reason: The membership view classifies this silo as Dead (in Refresh). Membership: [Version: 6, 3 silos]");
        Assert.StartsWith("error: the cluster declared this silo dead (The membership view classifies this silo as Dead (in Refresh)), so it stops", line);
        Assert.DoesNotContain("Membership: [", line);
        Assert.DoesNotContain("\n", line);
    }

    [RedisFact]
    public async Task Silos_of_one_authority_form_a_cluster_over_tls_and_a_silo_of_another_cannot_join()
    {
        using var dir = new TempDirectory();
        using var redis = RedisServer.Start(dir.Path);
        using var ca = Authority("cluster-ca");
        using var other = Authority("foreign-ca");
        var caPath = WritePem(ca, dir.Path, "ca").Certificate;
        var otherPath = WritePem(other, dir.Path, "foreign-ca").Certificate;
        string Config(string name, X509Certificate2 issuer, string trusted, int port)
        {
            using var certificate = Silo(issuer, $"silo-{name}");
            var files = WritePem(certificate, dir.Path, $"silo-{name}");
            return $"cluster: {{id: tls-pair, redis: '{redis.Endpoint}'}}\nsilo: {{port: {port}, gateway_port: {port + 1}}}\nslots: 1\nruns_root: runs\n" +
                $"metrics_port: {port + 2}\ntls: {{certificate: {files.Certificate}, key: {files.Key}, ca: {trusted}}}\n";
        }
        var portA = FreePorts.Consecutive(3);
        using var a = UpSilo.Start(dir.Path, Config("a", ca, caPath, portA), "silo-a.yaml");
        var portB = FreePorts.Consecutive(3);
        using var b = UpSilo.Start(dir.Path, Config("b", ca, caPath, portB), "silo-b.yaml");
        // B is ready once it is an active member: joining means probing A over the silo port, both ways TLS.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        System.Net.HttpStatusCode ready;
        do
        {
            ready = (await http.GetAsync($"http://127.0.0.1:{portB + 2}/readyz")).StatusCode;
            if (ready != System.Net.HttpStatusCode.OK) await Task.Delay(200);
        }
        while (ready != System.Net.HttpStatusCode.OK && DateTime.UtcNow < deadline);
        Assert.True(ready == System.Net.HttpStatusCode.OK, b.Output);
        using var client = Client(ca, "pair-client");
        var clientFiles = WritePem(client, dir.Path, "pair-client");
        var status = CliRunner.Run(dir.Path, ["status", "--redis", redis.Endpoint, "--cluster", "tls-pair", .. Tls(clientFiles, caPath)], Limit);
        Assert.True(status.ExitCode == 0, status.ToString()); // a gateway found through Redis, over TLS

        var portC = FreePorts.Consecutive(3);
        File.WriteAllText(Path.Combine(dir.Path, "silo-c.yaml"), Config("c", other, otherPath, portC));
        var c = CliRunner.Run(dir.Path, ["up", "--config", Path.Combine(dir.Path, "silo-c.yaml")], TimeSpan.FromMinutes(3));
        // Whichever comes first: its own check of the members fails the start (2), or the members declare it dead (1).
        Assert.True(c.ExitCode is 1 or 2, c.ToString());
        Assert.Matches("cannot start the silo|the cluster declared this silo dead", c.Output);
        Assert.Contains("tls: refused a connection: the peer's certificate (CN=silo-a) not issued by the configured CA (CN=foreign-ca)", c.Output);
        AssertLogged(a, "tls: refused a connection: the peer's certificate (CN=silo-c) not issued by the configured CA (CN=cluster-ca)");
        AssertNoStackTrace(c);
    }

    private void AssertSiloLogged(string fragment) => AssertLogged(fixture.Silo, fragment);

    private static void AssertLogged(UpSilo silo, string fragment)
    {
        // The silo writes the refusal before it closes the connection; its output reaches the test through a pipe, so wait for it.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!silo.Output.Contains(fragment, StringComparison.Ordinal) && DateTime.UtcNow < deadline) Thread.Sleep(50);
        Assert.Contains(fragment, silo.Output);
    }

    private static void AssertNoStackTrace(CliResult result)
    {
        Assert.DoesNotContain("   at ", result.Output);
        Assert.DoesNotContain("Unhandled exception", result.Output);
    }
}
