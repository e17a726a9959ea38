using System.Net;
using Orchestrator.Silos.Config;
using Orchestrator.Tests.Cli;

namespace Orchestrator.Tests.ControlPlane;

/// <summary>The <c>up --config</c> file: defaults, every field, and errors that name the field and line, all at once.</summary>
public sealed class SiloConfigTests
{
    [Fact]
    public void The_example_cluster_config_loads_with_redis_and_loopback()
    {
        var config = SiloConfigLoader.LoadFile(Orchestrator.Tests.Observability.RepoFiles.Path("examples/cluster-silo.yaml"));
        Assert.Equal(("orchestrator", "127.0.0.1:6379", IPAddress.Loopback, "runs"), (config.ClusterId, config.Redis, config.Host, config.RunsRoot));
    }

    [Fact]
    public void An_empty_config_is_a_single_loopback_silo_with_the_defaults()
    {
        var config = SiloConfigLoader.Parse("", "silo.yaml");

        Assert.Equal(SiloConfig.Default, config);
        Assert.Null(config.Redis);
        Assert.Equal(IPAddress.Loopback, config.Host);
        Assert.Equal(Environment.ProcessorCount, config.Slots);
    }

    [Fact]
    public void Every_field_is_read()
    {
        var config = SiloConfigLoader.Parse("""
            cluster: {id: prod-1, redis: 'redis.local:6380'}
            silo: {host: 10.0.0.5, port: 11112, gateway_port: 30001}
            slots: 8
            runs_root: /data/runs
            """, "silo.yaml");

        Assert.Equal(new SiloConfig("prod-1", "redis.local:6380", IPAddress.Parse("10.0.0.5"), 11112, 30001, 8, "/data/runs"), config);
    }

    [Fact]
    public void The_node_section_offers_this_machine_with_defaults_from_the_silo()
    {
        Assert.Null(SiloConfigLoader.Parse("slots: 3", "silo.yaml").Node);

        var full = SiloConfigLoader.Parse("""
            silo: {host: 10.0.0.5}
            node: {name: gpu-7, address: 10.1.0.5, slots: 4, gpus: 2, labels: {zone: b, rack: r12}}
            """, "silo.yaml").Node!;
        Assert.Equal(("gpu-7", IPAddress.Parse("10.1.0.5"), 4, 2), (full.Name, full.Address, full.Slots, full.Gpus));
        Assert.Equal(["rack=r12", "zone=b"], full.Labels.Select(l => $"{l.Key}={l.Value}"));

        var config = SiloConfigLoader.Parse("silo: {host: 10.0.0.5}\nslots: 6\nnode: {}", "silo.yaml");
        Assert.Equal((Environment.MachineName, IPAddress.Parse("10.0.0.5"), 6, 6), (config.Node!.Name, config.Node.Address, config.Node.Slots, config.Slots));
        Assert.Equal(NodeConfig.DetectGpus(), config.Node.Gpus);
        Assert.Equal(3, SiloConfigLoader.Parse("node: {slots: 3}", "silo.yaml").Slots); // the scheduler's slots are the node's
    }

    [Theory]
    [InlineData("node: {slots: 0}", "node.slots: must be >= 1, got 0 (line 1)")]
    [InlineData("slots: 2\nnode: {slots: 4}", "node.slots: and the top-level slots are both given; keep node.slots (line 2)")]
    [InlineData("node: {name: 'two words'}", "node.name: must be 1-63 letters, digits, '-', '_' or '.', starting with a letter or digit; got 'two words' (line 1)")]
    [InlineData("node: {address: somewhere}", "node.address: expected the IP address other nodes reach this one at, got 'somewhere' (line 1)")]
    [InlineData("silo: {host: 0.0.0.0}\nnode: {}", "node.address: is required when silo.host is 0.0.0.0 (a wildcard is not an address other nodes can reach)")]
    [InlineData("node: {gpus: -1}", "node.gpus: must be >= 0, got -1 (line 1)")]
    [InlineData("node: {slot: 2}", "node.slot: unknown field; did you mean 'slots'? (line 1)")]
    public void Bad_node_sections_name_the_field(string yaml, string expected)
    {
        var error = Assert.Throws<SiloConfigException>(() => SiloConfigLoader.Parse(yaml, "silo.yaml"));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Every_error_is_listed_with_its_field_and_line()
    {
        var error = Assert.Throws<SiloConfigException>(() => SiloConfigLoader.Parse("""
            cluster:
              id: Not_A_Label
              redis: localhost
            silo: {host: localhost, port: 70000, gatway_port: 1}
            slots: zero
            """, "silo.yaml"));

        var text = error.Message;
        Assert.StartsWith("invalid silo config silo.yaml: 6 errors", text);
        Assert.Contains("cluster.id: must be a DNS-1123 label", text);
        Assert.Contains("(line 2)", text);
        Assert.Contains("cluster.redis: expected host:port of a Redis server, got 'localhost' (line 3)", text);
        Assert.Contains("silo.gatway_port: unknown field; did you mean 'gateway_port'? (line 4)", text);
        Assert.Contains("silo.host: expected an IP address", text);
        Assert.Contains("silo.port: must be a port number 1..65535, got 70000 (line 4)", text);
        Assert.Contains("slots: expected an integer, got 'zero' (line 5)", text);
    }

    [Fact]
    public void Malformed_yaml_names_the_line()
    {
        var error = Assert.Throws<SiloConfigException>(() => SiloConfigLoader.Parse("cluster: {id: a\nslots: 2\n", "silo.yaml"));

        Assert.Contains("malformed YAML", error.Message);
        Assert.Contains("(line ", error.Message);
    }

    [Fact]
    public void Up_with_a_bad_config_exits_2_with_every_error_and_no_stack_trace()
    {
        using var dir = new TempDirectory();
        var config = CliSpecs.Write(dir, "silo: {port: 0}\nslots: -1\nextra: 1\n", "silo.yaml");

        var result = CliRunner.Run(dir.Path, ["up", "--config", config], TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("3 errors", result.Output);
        Assert.Contains("silo.port: must be a port number 1..65535, got 0 (line 1)", result.Output);
        Assert.Contains("slots: must be >= 1, got -1 (line 2)", result.Output);
        Assert.Contains("extra: unknown field (line 3)", result.Output);
        Assert.DoesNotContain("   at ", result.Output);
    }

    [Fact]
    public void Up_with_a_missing_config_file_exits_2()
    {
        using var dir = new TempDirectory();

        var result = CliRunner.Run(dir.Path, ["up", "--config", dir.File("nope.yaml")], TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("file not found", result.Output);
    }
}
