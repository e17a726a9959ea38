using System.Globalization;
using Orchestrator.Spec;

namespace Orchestrator.Bench.Drivers;

/// <summary>
/// Two emulated machines on this one: network namespaces <c>olbt-n1</c> and <c>olbt-n2</c>, each with its own
/// hostname (a UTS namespace per process, so MPICH sees two nodes and cannot use shared memory), joined by veth pairs to
/// a bridge in a third namespace (<c>olbt-sw</c>), on a private subnet with no route anywhere else. Every node link is
/// shaped with <c>tc tbf</c> in both directions. MPI jobs start with Hydra's <c>rsh</c> launcher pointed at a small
/// script that runs the proxy in the target node's namespace (no SSH). Needs root. Creating first removes leftovers of
/// an earlier run with the same prefix; disposing removes the namespaces (and with them every link) and the script.
/// </summary>
public sealed class ShapedLinkPair : IDisposable
{
    private const string Prefix = "olbt";
    private const string Switch = Prefix + "-sw";
    private const string Subnet = "10.231.77";
    private static readonly TimeSpan CommandLimit = TimeSpan.FromSeconds(20);

    private readonly string directory;

    private ShapedLinkPair(string directory, string rate)
    {
        this.directory = directory;
        Rate = rate;
    }

    /// <summary>The shaped rate of each node link (tc syntax, e.g. <c>1gbit</c>).</summary>
    public string Rate { get; }

    /// <summary>The nodes' addresses, as Hydra's <c>-hosts</c> takes them.</summary>
    public static IReadOnlyList<string> Addresses { get; } = [$"{Subnet}.1", $"{Subnet}.2"];

    private static string Namespace(int node) => $"{Prefix}-n{node + 1}";

    /// <summary>Builds the pair with links shaped to <paramref name="rate"/>; the launcher script goes into <paramref name="directory"/>.</summary>
    /// <exception cref="UserFacingException">Not root, or <c>ip</c>/<c>tc</c> failed (the message names the command).</exception>
    public static ShapedLinkPair Create(string rate, string directory)
    {
        if (!Environment.IsPrivilegedProcess)
            throw new UserFacingException("the shaped-link benchmark creates network namespaces and needs root (run it as root, as CI does)");
        RemoveLeftovers();
        var pair = new ShapedLinkPair(directory, rate);
        try
        {
            Ip("netns", "add", Switch);
            Ip("-n", Switch, "link", "set", "lo", "up");
            Ip("-n", Switch, "link", "add", "br0", "type", "bridge");
            Ip("-n", Switch, "link", "set", "br0", "up");
            for (int node = 0; node < Addresses.Count; node++)
            {
                var ns = Namespace(node);
                var port = $"p{node + 1}";
                Ip("netns", "add", ns);
                Ip("-n", ns, "link", "set", "lo", "up");
                // Both ends are made inside our namespaces: nothing of the root namespace is touched.
                Ip("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", Switch);
                Ip("-n", ns, "addr", "add", $"{Addresses[node]}/24", "dev", "eth0");
                Ip("-n", ns, "link", "set", "eth0", "up");
                Ip("-n", Switch, "link", "set", port, "master", "br0");
                Ip("-n", Switch, "link", "set", port, "up");
                Shape(ns, "eth0", rate);
                Shape(Switch, port, rate);
            }
            File.WriteAllText(pair.LauncherScript, LauncherScriptText());
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(pair.LauncherScript, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            return pair;
        }
        catch
        {
            pair.Dispose();
            throw;
        }
    }

    /// <summary>The program Hydra's <c>-launcher-exec</c> calls as <c>SCRIPT HOST command...</c>.</summary>
    public string LauncherScript => Path.Combine(directory, "olbt-hydra-exec");

    /// <summary>
    /// <c>mpiexec.hydra</c> with one rank on each node, run from node 1's namespace (its proxies reach it on the subnet),
    /// TCP between the ranks on the shaped link: the program and arguments to start, program first.
    /// </summary>
    public IReadOnlyList<string> MpiexecCommand(IEnumerable<string> rankCommand) =>
        ["ip", "netns", "exec", Namespace(0), "unshare", "--uts", "sh", "-c", "hostname node1; exec \"$@\"", "mpiexec",
         "mpiexec.hydra", "-launcher", "rsh", "-launcher-exec", LauncherScript, "-localhost", Addresses[0],
         "-hosts", string.Join(',', Addresses), "-np", "2",
         "-genv", "UCX_TLS", "tcp,self", "-genv", "UCX_NET_DEVICES", "eth0", "-genv", "MPIR_CVAR_NOLOCAL", "1", .. rankCommand];

    private static string LauncherScriptText() =>
        "#!/bin/sh\n" +
        "# Hydra's rsh launcher: HOST command... -> the command in HOST's namespace, with the node's own hostname.\n" +
        "host=\"$1\"; shift\n" +
        "case \"$host\" in\n" +
        string.Concat(Addresses.Select((a, i) => $"  {a}) ns={Namespace(i)}; name=node{i + 1} ;;\n")) +
        "  *) echo \"olbt-hydra-exec: unknown host $host\" >&2; exit 1 ;;\n" +
        "esac\n" +
        // Hydra hands the proxy's command line over as shell words (as ssh would run it): evaluated, then exec'ed.
        "exec ip netns exec \"$ns\" unshare --uts sh -c 'hostname \"$0\"; eval \"exec $*\"' \"$name\" \"$@\"\n";

    /// <summary>Bytes sent by node <paramref name="node"/>'s link so far (its veth's counter).</summary>
    public static long BytesSent(int node)
    {
        var result = ChildProcess.Run("ip", ["netns", "exec", Namespace(node), "cat", "/sys/class/net/eth0/statistics/tx_bytes"], CommandLimit, "apt-get install -y iproute2");
        return long.TryParse(result.Stdout.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var bytes) ? bytes : -1;
    }

    private static void Shape(string ns, string device, string rate) =>
        Run("ip", "netns", "exec", ns, "tc", "qdisc", "replace", "dev", device, "root", "tbf", "rate", rate, "burst", "256kb", "latency", "50ms");

    private static void Ip(params string[] arguments) => Run(["ip", .. arguments]);

    private static void Run(params string[] command)
    {
        var result = ChildProcess.Run(command[0], command[1..], CommandLimit, "apt-get install -y iproute2");
        if (result.ExitCode != 0)
            throw new UserFacingException($"{string.Join(' ', command)} failed (exit {result.ExitCode}): {result.Stderr.Trim()}");
    }

    private static void RemoveLeftovers()
    {
        var listed = ChildProcess.Run("ip", ["netns", "list"], CommandLimit, "apt-get install -y iproute2");
        foreach (var line in listed.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var name = line.Split(' ')[0];
            if (name.StartsWith(Prefix + "-", StringComparison.Ordinal))
                ChildProcess.Run("ip", ["netns", "del", name], CommandLimit, "apt-get install -y iproute2");
        }
    }

    /// <summary>Removes the namespaces (their links go with them) and the launcher script.</summary>
    public void Dispose()
    {
        RemoveLeftovers();
        File.Delete(LauncherScript);
    }
}
