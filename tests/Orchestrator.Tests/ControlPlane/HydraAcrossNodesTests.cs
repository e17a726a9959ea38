using Orchestrator.Scheduler.Launchers;
using Orchestrator.Spec;

namespace Orchestrator.Tests.ControlPlane;

/// <summary>The pieces of "launch without SSH" that need no cluster: the mpiexec command line, the node-exec script, and what a
/// node agent accepts as Hydra's proxy command.</summary>
public sealed class HydraAcrossNodesTests
{
    private static readonly GangHosts TwoNodes = new([new("node1", "10.0.0.1", 2), new("node2", "10.0.0.2", 1)], "10.0.0.1", "eth0");

    [Fact]
    public void A_gang_across_nodes_runs_hydra_with_the_rsh_launcher_pointed_at_node_exec_and_no_loopback_binding()
    {
        var options = new LocalMpiOptions("/x/orchestrator.dll", "/usr/bin/dotnet", UseSetsid: false);
        var request = new LaunchRequest("j", 3, "/r/job.yaml", "/r", [], null, null, TwoNodes);

        var argv = options.CommandLine(request);

        Assert.Equal(["mpirun.mpich", "-launcher", "rsh", "-launcher-exec", "/r/logs/node-exec", "-localhost", "10.0.0.1",
            "-hosts", "10.0.0.1:2,10.0.0.2:1", "-prepend-pattern", "[%r@%h] ", "-np", "3", "-iface", "eth0", "-genv", "UCX_NET_DEVICES", "eth0",
            "/usr/bin/dotnet", "/x/orchestrator.dll", "train", "/r/job.yaml", "--out", "/r"], argv);
        Assert.DoesNotContain(argv, a => a.Contains("127.0.0.1", StringComparison.Ordinal));
        Assert.Equal("node1 (10.0.0.1) ranks 0-1, node2 (10.0.0.2) rank 2", TwoNodes.Describe());
    }

    [Fact]
    public void The_node_exec_script_is_fixed_text_with_quoted_installation_paths()
    {
        var options = new LocalMpiOptions("/opt/it's here/orchestrator.dll", "/usr/bin/dotnet");
        Assert.Equal("#!/bin/sh\n# Hydra's rsh launcher: HOST COMMAND... -> the silo of the node at HOST starts COMMAND there (no ssh).\n" +
            "exec '/usr/bin/dotnet' '/opt/it'\\''s here/orchestrator.dll' node-exec -- \"$@\"\n", options.NodeExecScript());
    }

    [Fact]
    public async Task A_launch_writes_the_node_exec_script_and_the_placement_into_the_log()
    {
        using var dir = new TempDirectory();
        var launcher = new LocalMpiLauncher(new LocalMpiOptions("/x/orchestrator.dll", "/usr/bin/dotnet", Mpirun: "/bin/true", UseSetsid: false));
        using (var job = launcher.Launch(new LaunchRequest("j", 3, dir.File("job.yaml"), dir.Path, [], null, null, TwoNodes)))
            Assert.Equal(0, await job.Exited);
        var script = Path.Combine(dir.Path, "logs", "node-exec");
        Assert.Contains("node-exec -- \"$@\"", File.ReadAllText(script));
        Assert.True(OperatingSystem.IsWindows() || File.GetUnixFileMode(script).HasFlag(UnixFileMode.UserExecute));
        Assert.Contains("# placement: node1 (10.0.0.1) ranks 0-1, node2 (10.0.0.2) rank 2; between nodes MPI over TCP on eth0",
            File.ReadAllText(RunLayout.LauncherLog(dir.Path)));
    }

    [Fact]
    public void Hydras_proxy_command_is_taken_word_by_word_without_a_shell()
    {
        string[] words = ["\"/usr/bin/hydra_pmi_proxy\"", "--control-port", "10.0.0.1:40001", "--rmk", "user", "--proxy-id", "1"];
        Assert.True(HydraProxyCommand.TryParse(words, out var argv, out var refusal), refusal);
        Assert.Equal(["/usr/bin/hydra_pmi_proxy", "--control-port", "10.0.0.1:40001", "--rmk", "user", "--proxy-id", "1"], argv);
    }

    [Theory]
    [InlineData("/bin/sh", "only Hydra's hydra_pmi_proxy may be started on a node, not '/bin/sh'")]
    [InlineData("hydra_pmi_proxy", "only Hydra's hydra_pmi_proxy may be started on a node")] // not an absolute path
    [InlineData("/tmp/evil/hydra_pmi_proxy\"; rm -rf /\"", "has quotes a plain word cannot have")]
    [InlineData("/usr/bin/hydra_pmi_proxy\n", "has control characters")]
    public void Anything_but_hydras_proxy_is_refused_with_the_reason(string program, string expected)
    {
        Assert.False(HydraProxyCommand.TryParse([program, "--proxy-id", "0"], out _, out var refusal));
        Assert.Contains(expected, refusal);
    }

    [Fact]
    public void A_quoted_argument_after_the_program_is_refused_too_and_an_empty_command_is_named()
    {
        Assert.False(HydraProxyCommand.TryParse(["/usr/bin/hydra_pmi_proxy", "a'b"], out _, out var refusal));
        Assert.Contains("'a'b'", refusal);
        Assert.False(HydraProxyCommand.TryParse([], out _, out refusal));
        Assert.Equal("no command given", refusal);
    }
}
