using System.Net;
using Orchestrator.Silos.Config;
using Orchestrator.Tests.Cli;
using Orchestrator.Tests.Observability;

namespace Orchestrator.Tests.ControlPlane;

/// <summary>
/// <c>silo.listen_any</c>: a silo that advertises one address but listens on all of them, as a pod must for
/// <c>kubectl port-forward</c> (which connects to the pod's loopback) to reach its gateway. Here the advertised address is
/// 127.0.0.2 and the client comes in through 127.0.0.1, as a port-forward would; without listen_any that connection has
/// nothing to reach.
/// </summary>
public sealed class ListenAnyTests
{
    [Fact]
    public void The_config_reads_listen_any_and_refuses_a_non_boolean()
    {
        Assert.False(SiloConfigLoader.Parse("", "silo.yaml").ListenAny);
        Assert.True(SiloConfigLoader.Parse("silo: {host: 10.0.0.5, listen_any: true}", "silo.yaml").ListenAny);
        var error = Assert.Throws<SiloConfigException>(() => SiloConfigLoader.Parse("silo: {listen_any: sometimes}", "silo.yaml"));
        Assert.Contains("silo.listen_any", error.Message);
    }

    [Fact]
    public void A_silo_advertising_one_address_answers_a_client_that_comes_in_through_loopback()
    {
        using var dir = new TempDirectory();
        var port = FreePorts.Consecutive(2);
        using var silo = UpSilo.Start(dir.Path,
            $"cluster: {{id: listen-any}}\nsilo: {{host: 127.0.0.2, port: {port}, gateway_port: {port + 1}, listen_any: true}}\nslots: 1\nruns_root: runs\nmetrics_port: 0\n");

        Assert.Equal($"127.0.0.2:{port + 1}", silo.Gateway);
        var status = CliRunner.Run(dir.Path, ["status", "--silo", $"127.0.0.1:{port + 1}", "--cluster", "listen-any"], TimeSpan.FromSeconds(90));
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Contains("silo.listen_any listens on every address", silo.Output); // no TLS: the exposure warning names the cause
    }
}
