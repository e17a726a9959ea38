using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Orchestrator.Spec;

namespace Orchestrator.Silos.Emulation;

/// <summary>What <c>cluster emulate up</c> builds.</summary>
/// <param name="Nodes">Emulated machines (1..<see cref="EmulatedCluster.MaxNodes"/>).</param>
/// <param name="Bandwidth">Rate of every node link (tc syntax: <c>100mbit</c>, <c>1gbit</c>, ...).</param>
/// <param name="SlotsPerNode">Worker slots each node offers.</param>
/// <param name="Directory">Where configs, logs and (by default) the shared runs root live; removed by <c>down</c>.</param>
/// <param name="RunsRoot">The runs root every node shares; null = <c>DIRECTORY/runs</c>.</param>
/// <param name="WorkerEnvironment">Further variables for every rank (each node's <c>node.worker_env</c>); null = none.</param>
public sealed record EmulatorOptions(int Nodes, string Bandwidth, int SlotsPerNode, string Directory, string? RunsRoot = null,
    IReadOnlyDictionary<string, string>? WorkerEnvironment = null)
{
    /// <summary>The runs root with its default filled in.</summary>
    public string RunsRootOrDefault => RunsRoot ?? Path.Combine(Directory, "runs");
}

/// <summary>
/// A cluster of machines emulated on this one, for tests, benchmarks and users who want to try a cluster on one machine: a
/// <see cref="NetworkFabric"/> (one network namespace and host name per node, a bridge in a switch namespace, a private subnet
/// with no route anywhere else, <c>tc</c> shaping on every node link), Redis on the bridge's address, and one
/// <c>orchestrator up</c> silo per node with a node section (its address, slots, <c>eth0</c> as the interface between nodes),
/// all sharing one runs root on this machine's filesystem (what NFS or a volume gives a real cluster). Everything is named
/// with the prefix <see cref="Prefix"/>: <see cref="Up"/> first removes leftovers of a crashed run, <see cref="Down"/> kills
/// every process in the namespaces, removes the namespaces (with their links) and the directory.
/// </summary>
public static partial class EmulatedCluster
{
    /// <summary>The prefix of every namespace the emulator makes.</summary>
    public const string Prefix = "oemu";

    /// <summary>The emulated cluster's private subnet (first three octets).</summary>
    public const string Subnet = "10.231.90";

    /// <summary>The cluster id of the emulated cluster.</summary>
    public const string ClusterId = "emulated";

    /// <summary>Most nodes the emulator makes (each is a silo process of about 100 MB, plus its workers).</summary>
    public const int MaxNodes = 16;

    /// <summary>The silo gateway port on every node.</summary>
    public const int GatewayPort = 30000;

    /// <summary>The Redis port on the bridge.</summary>
    public const int RedisPort = 6379;

    private static readonly TimeSpan ReadyLimit = TimeSpan.FromSeconds(120);

    /// <summary>The interface between nodes inside every node's namespace (its end of the shaped link).</summary>
    public const string NodeInterface = NetworkFabric.NodeInterface;

    /// <summary>The address of node <paramref name="node"/> (0-based) on <see cref="NodeInterface"/>.</summary>
    public static string Address(int node) => $"{Subnet}.{(node + 1).ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The gateway of node <paramref name="node"/> (0-based).</summary>
    public static string Gateway(int node) => $"{Address(node)}:{GatewayPort.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The Redis server of the emulated cluster.</summary>
    public static string Redis => $"{Subnet}.254:{RedisPort.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>
    /// An orchestrator client command run inside node <paramref name="node"/> (0-based; the subnet is reachable only from the
    /// nodes), program first, and the variables that point it at that node's gateway.
    /// </summary>
    public static (IReadOnlyList<string> Command, IReadOnlyDictionary<string, string> Environment) ClientCommand(int node, string dotnet, string entry,
        IEnumerable<string> args) =>
        (["ip", "netns", "exec", NodeNamespace(node), dotnet, entry, .. args],
         new Dictionary<string, string> { [Commands.ClientOptions.SiloVariable] = Gateway(node), [Commands.ClientOptions.ClusterVariable] = ClusterId });

    /// <summary>The namespace of node <paramref name="node"/> (0-based).</summary>
    public static string NodeNamespace(int node) => $"{Prefix}-n{(node + 1).ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Refuses options that cannot work; null when they can.</summary>
    public static string? Check(EmulatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Nodes is < 1 or > MaxNodes) return $"--nodes: must be 1..{MaxNodes}, got {options.Nodes}";
        if (!LinkRate.TryParse(options.Bandwidth, out _)) return $"--bandwidth: expected {LinkRate.Expected}, got '{options.Bandwidth}'";
        if (options.SlotsPerNode is < 1 or > 256) return $"--slots: must be 1..256, got {options.SlotsPerNode}";
        foreach (var (name, value) in options.WorkerEnvironment ?? new Dictionary<string, string>())
            if (!VariablePattern().IsMatch(name) || value.Contains('"') || value.Contains('\\') || value.Any(char.IsControl))
                return $"--worker-env: expected NAME=VALUE with a variable name and a value without quotes, backslashes or control characters, got '{name}={value}'";
        return null;
    }

    /// <summary>Builds the cluster and waits until every node's silo has registered; on any failure removes what it made.</summary>
    /// <param name="entry">The <c>orchestrator.dll</c> the silos run; <paramref name="dotnet"/> the host that runs it.</param>
    /// <param name="log">Progress lines for the user.</param>
    /// <exception cref="UserFacingException">Bad options, not root, a missing tool, or a silo that did not come up (its log's last lines).</exception>
    public static void Up(EmulatorOptions options, string dotnet, string entry, Action<string> log)
    {
        ArgumentNullException.ThrowIfNull(log);
        if (Check(options) is { } problem) throw new UserFacingException(problem);
        if (!Environment.IsPrivilegedProcess)
            throw new UserFacingException("cluster emulate needs root: it creates network namespaces (run it as root, as CI does)");
        if (!File.Exists("/usr/bin/redis-server"))
            throw new UserFacingException("cluster emulate needs redis-server for the cluster's membership and state: apt-get install -y redis-server");
        Down(options.Directory, _ => { });
        Directory.CreateDirectory(options.Directory);
        Directory.CreateDirectory(options.RunsRootOrDefault);
        try
        {
            var fabric = NetworkFabric.Create(Prefix, Subnet, options.Nodes, options.Bandwidth); // outlives this process: Down removes it
            Detach(["ip", "netns", "exec", fabric.SwitchNamespace, "redis-server", "--bind", fabric.SwitchAddress, "--port",
                RedisPort.ToString(CultureInfo.InvariantCulture), "--save", "", "--appendonly", "no", "--protected-mode", "no"],
                Path.Combine(options.Directory, "redis.log"));
            log($"network: {options.Nodes} node namespaces on {Subnet}.0/24, links shaped to {options.Bandwidth}; redis at {Redis}");
            for (int node = 0; node < options.Nodes; node++)
            {
                var config = Path.Combine(options.Directory, $"{NetworkFabric.NodeName(node)}.yaml");
                File.WriteAllText(config, SiloConfigText(node, options));
                Detach([.. fabric.OnNode(node, [dotnet, entry, "up", "--config", config])], LogPath(options.Directory, node));
            }
            var stopwatch = Stopwatch.StartNew();
            for (int node = 0; node < options.Nodes; node++)
                WaitUntilRegistered(options.Directory, node, ReadyLimit - stopwatch.Elapsed);
            log($"{options.Nodes} silos up in {stopwatch.Elapsed.TotalSeconds:0.0} s: node1..node{options.Nodes}, gateways {Gateway(0)}..{Gateway(options.Nodes - 1)}");
        }
        catch
        {
            Down(options.Directory, _ => { });
            throw;
        }
    }

    /// <summary>
    /// Removes an emulated cluster: kills every process in its namespaces, removes the namespaces (their links go with them)
    /// and <paramref name="directory"/>. Safe to run when nothing is there.
    /// </summary>
    public static void Down(string directory, Action<string> log)
    {
        ArgumentNullException.ThrowIfNull(log);
        if (!Environment.IsPrivilegedProcess)
            throw new UserFacingException("cluster emulate needs root: it removes network namespaces (run it as root, as CI does)");
        var processes = NetworkFabric.ProcessesIn(Prefix);
        foreach (var pid in processes)
        {
            try { Process.GetProcessById(pid).Kill(entireProcessTree: true); }
            catch (ArgumentException) { } // gone already
            catch (InvalidOperationException) { }
        }
        var namespaces = NetworkFabric.Namespaces(Prefix);
        NetworkFabric.RemoveLeftovers(Prefix);
        var removed = Directory.Exists(directory);
        if (removed) Directory.Delete(directory, recursive: true);
        log($"removed {namespaces.Count} namespaces, {processes.Count} processes{(removed ? $" and {directory}" : "")}");
    }

    /// <summary>The <c>up</c> config of node <paramref name="node"/>.</summary>
    public static string SiloConfigText(int node, EmulatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var address = Address(node);
        return $"""
            # node {node + 1} of an emulated cluster (orchestrator cluster emulate up)
            cluster: {"{"} id: {ClusterId}, redis: "{Redis}" {"}"}
            silo: {"{"} host: {address}, port: 11111, gateway_port: {GatewayPort} {"}"}
            runs_root: "{Path.GetFullPath(options.RunsRootOrDefault)}"
            metrics_port: 9390
            node:
              name: {NetworkFabric.NodeName(node)}
              slots: {options.SlotsPerNode}
              interface: {NodeInterface}
              # The nodes share one real machine: UCX would reach another node's ranks through its shared memory and fake the
              # network. MPICH's own shared memory still joins the ranks of one node.
              worker_env:
                UCX_TLS: "tcp,self"
            {string.Concat((options.WorkerEnvironment ?? new Dictionary<string, string>()).Select(v => $"    {v.Key}: \"{v.Value}\"\n"))}

            """;
    }

    /// <summary>The log of node <paramref name="node"/>'s silo.</summary>
    public static string LogPath(string directory, int node) => Path.Combine(directory, $"{NetworkFabric.NodeName(node)}.log");

    private static void WaitUntilRegistered(string directory, int node, TimeSpan limit)
    {
        var path = LogPath(directory, node);
        var name = NetworkFabric.NodeName(node);
        var deadline = DateTime.UtcNow + (limit > TimeSpan.Zero ? limit : TimeSpan.Zero);
        while (true)
        {
            var text = File.Exists(path) ? File.ReadAllText(path) : "";
            if (text.Contains($"node {name} at ", StringComparison.Ordinal)) return;
            if (text.Contains("error:", StringComparison.Ordinal) || DateTime.UtcNow > deadline)
            {
                var tail = string.Join("\n  ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(5));
                throw new UserFacingException($"the silo of {name} did not come up{(DateTime.UtcNow > deadline ? $" within {ReadyLimit.TotalSeconds:0} s" : "")}; " +
                    $"its log {path} ends:\n  {tail}");
            }
            Thread.Sleep(200);
        }
    }

    /// <summary>Starts <paramref name="command"/> in a session of its own, its output appended to <paramref name="logPath"/>, and does not wait.</summary>
    private static void Detach(IReadOnlyList<string> command, string logPath)
    {
        var start = new ProcessStartInfo("/usr/bin/setsid") { UseShellExecute = false };
        // The log path and the command travel as arguments ($0 and "$@"): nothing is spliced into the script.
        foreach (var arg in (string[])["sh", "-c", "exec \"$@\" </dev/null >>\"$0\" 2>&1", logPath, .. command]) start.ArgumentList.Add(arg);
        start.Environment["NO_COLOR"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start) ?? throw new UserFacingException($"could not start {command[0]}");
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex VariablePattern();
}
