using Orchestrator.Silos.Emulation;
using Orchestrator.Spec;

namespace Orchestrator.Bench.Drivers;

/// <summary>
/// Two emulated machines on this one (a <see cref="NetworkFabric"/> with prefix <c>olbt</c>: namespaces <c>olbt-n1</c> and
/// <c>olbt-n2</c>, each process under its own host name so MPICH sees two nodes and cannot use shared memory), every node link
/// shaped with <c>tc tbf</c>. MPI jobs start with Hydra's <c>rsh</c> launcher pointed at a small script that runs the proxy in
/// the target node's namespace (no SSH). Needs root. Creating first removes leftovers of an earlier run; disposing removes
/// the namespaces (and with them every link) and the script.
/// </summary>
public sealed class ShapedLinkPair : IDisposable
{
    private const string Prefix = "olbt";

    private readonly NetworkFabric fabric;
    private readonly string directory;

    private ShapedLinkPair(NetworkFabric fabric, string directory)
    {
        this.fabric = fabric;
        this.directory = directory;
    }

    /// <summary>The shaped rate of each node link (tc syntax, e.g. <c>1gbit</c>).</summary>
    public string Rate => fabric.Rate;

    /// <summary>The shaped rate of each node link, parsed.</summary>
    public LinkRate LinkRate => fabric.LinkRate;

    /// <summary>The nodes' addresses, as Hydra's <c>-hosts</c> takes them.</summary>
    public IReadOnlyList<string> Addresses => fabric.Addresses;

    /// <summary>Builds the pair with links shaped to <paramref name="rate"/>; the launcher script goes into <paramref name="directory"/>.</summary>
    /// <exception cref="UserFacingException">Not root, or <c>ip</c>/<c>tc</c> failed (the message names the command).</exception>
    public static ShapedLinkPair Create(string rate, string directory)
    {
        var fabric = NetworkFabric.Create(Prefix, "10.231.77", 2, rate);
        var pair = new ShapedLinkPair(fabric, directory);
        try
        {
            File.WriteAllText(pair.LauncherScript, pair.LauncherScriptText());
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
    public IReadOnlyList<string> MpiexecCommand(IEnumerable<string> rankCommand) => fabric.OnNode(0,
        ["mpiexec.hydra", "-launcher", "rsh", "-launcher-exec", LauncherScript, "-localhost", Addresses[0],
         "-hosts", string.Join(',', Addresses), "-np", "2",
         "-genv", "UCX_TLS", "tcp,self", "-genv", "UCX_NET_DEVICES", "eth0", "-genv", "MPIR_CVAR_NOLOCAL", "1", .. rankCommand]);

    private string LauncherScriptText() =>
        "#!/bin/sh\n" +
        "# Hydra's rsh launcher: HOST command... -> the command in HOST's namespace, with the node's own hostname.\n" +
        "host=\"$1\"; shift\n" +
        "case \"$host\" in\n" +
        string.Concat(Addresses.Select((a, i) => $"  {a}) ns={fabric.NodeNamespace(i)}; name={NetworkFabric.NodeName(i)} ;;\n")) +
        "  *) echo \"olbt-hydra-exec: unknown host $host\" >&2; exit 1 ;;\n" +
        "esac\n" +
        // Hydra hands the proxy's command line over as shell words (as ssh would run it): evaluated, then exec'ed.
        "exec ip netns exec \"$ns\" unshare --uts sh -c 'hostname \"$0\"; eval \"exec $*\"' \"$name\" \"$@\"\n";

    /// <summary>Bytes sent by node <paramref name="node"/>'s link so far (its veth's counter).</summary>
    public long BytesSent(int node) => fabric.BytesSent(node);

    /// <summary>Removes the namespaces (their links go with them) and the launcher script.</summary>
    public void Dispose()
    {
        fabric.Dispose();
        File.Delete(LauncherScript);
    }
}
