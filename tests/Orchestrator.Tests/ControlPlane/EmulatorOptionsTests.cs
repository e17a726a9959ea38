using System.Net;
using Orchestrator.Silos.Config;
using Orchestrator.Silos.Emulation;

namespace Orchestrator.Tests.ControlPlane;

/// <summary>What the emulator and a node config refuse before anything is made (no root needed).</summary>
public sealed class EmulatorOptionsTests
{
    [Theory]
    [InlineData(0, "1gbit", 2, "--nodes: must be 1..16, got 0")]
    [InlineData(100, "1gbit", 2, "--nodes: must be 1..16, got 100")]
    [InlineData(2, "fast", 2, "--bandwidth: expected a rate like 100mbit, 1gbit or 10gbit, got 'fast'")]
    [InlineData(2, "1gbit", 0, "--slots: must be 1..256, got 0")]
    public void Bad_options_are_refused_naming_the_option(int nodes, string bandwidth, int slots, string expected) =>
        Assert.Equal(expected, EmulatedCluster.Check(new EmulatorOptions(nodes, bandwidth, slots, "/tmp/x")));

    [Fact]
    public void Worker_variables_must_be_names_with_plain_values_and_good_options_pass()
    {
        Assert.Null(EmulatedCluster.Check(new EmulatorOptions(3, "100mbit", 2, "/tmp/x", null, new Dictionary<string, string> { ["A_B"] = "1" })));
        Assert.StartsWith("--worker-env: expected NAME=VALUE", EmulatedCluster.Check(
            new EmulatorOptions(3, "1gbit", 2, "/tmp/x", null, new Dictionary<string, string> { ["A-B"] = "1" })));
        Assert.StartsWith("--worker-env: expected NAME=VALUE", EmulatedCluster.Check(
            new EmulatorOptions(3, "1gbit", 2, "/tmp/x", null, new Dictionary<string, string> { ["A"] = "\"; rm" })));
    }

    [Fact]
    public void Each_node_config_is_a_valid_up_config_with_its_own_address_and_the_shared_runs_root()
    {
        var options = new EmulatorOptions(3, "1gbit", 2, "/tmp/emu", null, new Dictionary<string, string> { ["ORCHESTRATOR_RECORD_SAMPLES"] = "1" });
        var config = SiloConfigLoader.Parse(EmulatedCluster.SiloConfigText(1, options), "node2.yaml");
        Assert.Equal((EmulatedCluster.ClusterId, EmulatedCluster.Redis, IPAddress.Parse("10.231.90.2")), (config.ClusterId, config.Redis, config.Host));
        Assert.Equal(("node2", 2, "eth0"), (config.Node!.Name, config.Node.Slots, config.Node.Interface));
        Assert.Equal("/tmp/emu/runs", config.RunsRoot);
        Assert.Equal(["ORCHESTRATOR_RECORD_SAMPLES=1", "UCX_TLS=tcp,self"], config.Node.WorkerEnvironment!.Select(v => $"{v.Key}={v.Value}"));
    }

    [Fact]
    public void A_node_address_must_belong_to_this_machine()
    {
        Assert.Null(NodeAddressCheck.NotLocal(IPAddress.Loopback));
        var problem = NodeAddressCheck.NotLocal(IPAddress.Parse("192.0.2.77")); // TEST-NET-1: never a local address
        Assert.StartsWith("192.0.2.77 is not an address of this machine (its addresses: ", problem);
        Assert.Contains("127.0.0.1", problem);
    }
}
