using System.Globalization;
using Orchestrator.Spec;

namespace Orchestrator.Silos.Emulation;

/// <summary>
/// Machines emulated on this one with network namespaces: one namespace per node (<c>PREFIX-n1</c>, ...), each joined by a
/// veth pair to a Linux bridge that lives in a namespace of its own (<c>PREFIX-sw</c>), on a private /24 with no route
/// anywhere else; the root namespace's interfaces and routes are never touched. Every node link is shaped with <c>tc tbf</c>
/// in both directions, with a burst of about a millisecond of the rate (<see cref="LinkRate"/>), so it behaves like a wire.
/// The bridge itself has an address too (<see cref="SwitchAddress"/>), for services every node reaches
/// (the emulated cluster's Redis). Needs root. Creating first removes leftovers of an earlier run with the same prefix;
/// disposing removes the namespaces, and with them every link.
/// </summary>
public sealed class NetworkFabric : IDisposable
{
    private NetworkFabric(string prefix, string subnet, int nodes, LinkRate rate)
    {
        Prefix = prefix;
        Subnet = subnet;
        LinkRate = rate;
        Addresses = [.. Enumerable.Range(1, nodes).Select(i => $"{subnet}.{i.ToString(CultureInfo.InvariantCulture)}")];
    }

    /// <summary>Every node's end of its link, inside the node's namespace.</summary>
    public const string NodeInterface = "eth0";

    /// <summary>The prefix of every namespace this fabric made.</summary>
    public string Prefix { get; }

    /// <summary>The first three octets of the private subnet.</summary>
    public string Subnet { get; }

    /// <summary>The shaped rate of each node link (tc syntax, e.g. <c>1gbit</c>).</summary>
    public string Rate => LinkRate.Text;

    /// <summary>The shaped rate of each node link, parsed.</summary>
    public LinkRate LinkRate { get; }

    /// <summary>The nodes' addresses, node 1 first.</summary>
    public IReadOnlyList<string> Addresses { get; }

    /// <summary>The bridge's address (reachable from every node).</summary>
    public string SwitchAddress => $"{Subnet}.254";

    /// <summary>The namespace of the switch.</summary>
    public string SwitchNamespace => $"{Prefix}-sw";

    /// <summary>The namespace of node <paramref name="node"/> (0-based).</summary>
    public string NodeNamespace(int node) => $"{Prefix}-n{(node + 1).ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The host name node <paramref name="node"/> (0-based) runs under (its own UTS namespace).</summary>
    public static string NodeName(int node) => $"node{(node + 1).ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Builds <paramref name="nodes"/> nodes on <paramref name="subnet"/>.0/24 with links shaped to <paramref name="rate"/>.</summary>
    /// <exception cref="UserFacingException">Not root, or <c>ip</c>/<c>tc</c> failed (the message names the command); nothing is left behind.</exception>
    public static NetworkFabric Create(string prefix, string subnet, int nodes, string rate)
    {
        if (!Environment.IsPrivilegedProcess)
            throw new UserFacingException("emulating machines creates network namespaces and needs root (run it as root, as CI does)");
        if (!LinkRate.TryParse(rate, out var linkRate))
            throw new UserFacingException($"link rate: expected {LinkRate.Expected}, got '{rate}'");
        RemoveLeftovers(prefix);
        var fabric = new NetworkFabric(prefix, subnet, nodes, linkRate);
        try
        {
            var sw = fabric.SwitchNamespace;
            Ip("netns", "add", sw);
            Ip("-n", sw, "link", "set", "lo", "up");
            Ip("-n", sw, "link", "add", "br0", "type", "bridge");
            Ip("-n", sw, "addr", "add", $"{fabric.SwitchAddress}/24", "dev", "br0");
            Ip("-n", sw, "link", "set", "br0", "up");
            for (int node = 0; node < nodes; node++)
            {
                var ns = fabric.NodeNamespace(node);
                var port = $"p{(node + 1).ToString(CultureInfo.InvariantCulture)}";
                Ip("netns", "add", ns);
                Ip("-n", ns, "link", "set", "lo", "up");
                // Both ends are made inside our namespaces: nothing of the root namespace is touched.
                Ip("-n", ns, "link", "add", NodeInterface, "type", "veth", "peer", "name", port, "netns", sw);
                Ip("-n", ns, "addr", "add", $"{fabric.Addresses[node]}/24", "dev", NodeInterface);
                Ip("-n", ns, "link", "set", NodeInterface, "up");
                Ip("-n", sw, "link", "set", port, "master", "br0");
                Ip("-n", sw, "link", "set", port, "up");
                Shape(ns, NodeInterface, linkRate);
                Shape(sw, port, linkRate);
            }
            return fabric;
        }
        catch
        {
            fabric.Dispose();
            throw;
        }
    }

    /// <summary>The command line that runs <paramref name="command"/> in node <paramref name="node"/>'s namespace under its own host name.</summary>
    public IReadOnlyList<string> OnNode(int node, IEnumerable<string> command) =>
        ["ip", "netns", "exec", NodeNamespace(node), "unshare", "--uts", "sh", "-c", "hostname \"$0\" && exec \"$@\"", NodeName(node), .. command];

    /// <summary>Bytes node <paramref name="node"/>'s link has sent so far (its veth's counter); -1 when unreadable.</summary>
    public long BytesSent(int node) => long.TryParse(
        SystemCommand.Try(["ip", "netns", "exec", NodeNamespace(node), "cat", $"/sys/class/net/{NodeInterface}/statistics/tx_bytes"], out var text, out _) ? text.Trim() : "",
        NumberStyles.None, CultureInfo.InvariantCulture, out var bytes) ? bytes : -1;

    /// <summary>Process ids of everything running in the namespaces of <paramref name="prefix"/>.</summary>
    public static IReadOnlyList<int> ProcessesIn(string prefix) => [.. Namespaces(prefix).SelectMany(ProcessesOf).Distinct()];

    /// <summary>Process ids of everything running in namespace <paramref name="ns"/> (none when it does not exist).</summary>
    public static IReadOnlyList<int> ProcessesOf(string ns) =>
        [.. (SystemCommand.Try(["ip", "netns", "pids", ns], out var text, out _) ? text.Split('\n', StringSplitOptions.RemoveEmptyEntries) : [])
            .Select(p => int.TryParse(p.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : -1).Where(p => p > 0)];

    /// <summary>The namespaces whose names start with <paramref name="prefix"/>-.</summary>
    public static IReadOnlyList<string> Namespaces(string prefix) =>
        [.. SystemCommand.Run("ip", "netns", "list").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(' ')[0]).Where(name => name.StartsWith(prefix + "-", StringComparison.Ordinal))];

    /// <summary>Removes every namespace of <paramref name="prefix"/> (their links go with them).</summary>
    public static void RemoveLeftovers(string prefix)
    {
        foreach (var name in Namespaces(prefix))
            SystemCommand.Try(["ip", "netns", "del", name], out _, out _);
    }

    /// <summary>Removes the namespaces (their links go with them).</summary>
    public void Dispose() => RemoveLeftovers(Prefix);

    // The burst is what makes tbf a wire rather than a bucket (see LinkRate); tc reads a bare size as bytes.
    private static void Shape(string ns, string device, LinkRate rate) =>
        SystemCommand.Run("ip", "netns", "exec", ns, "tc", "qdisc", "replace", "dev", device, "root", "tbf", "rate", rate.Text,
            "burst", rate.BurstBytes.ToString(CultureInfo.InvariantCulture), "latency", "50ms");

    private static void Ip(params string[] arguments) => SystemCommand.Run(["ip", .. arguments]);
}
