using System.Collections.Immutable;
using System.Net;
using System.Text.RegularExpressions;

namespace Orchestrator.Silos.Config;

/// <summary>
/// The <c>node</c> section of an <c>up</c> config: the machine this silo offers to the cluster's scheduler. A silo without
/// it offers no node of its own; a cluster where no silo has one is a single machine (one implicit node of <c>slots</c>).
/// </summary>
/// <param name="Name">Unique node name (<c>node.name</c>; default: the machine's host name).</param>
/// <param name="Address">The address other nodes reach this one at (<c>node.address</c>; default: <c>silo.host</c>).</param>
/// <param name="Slots">Worker slots (<c>node.slots</c>; default: the top-level <c>slots</c>, else the CPU count).</param>
/// <param name="Gpus">GPUs (<c>node.gpus</c>; default: the NVIDIA devices under <c>/dev</c>).</param>
/// <param name="Labels">Free-form labels (<c>node.labels</c>).</param>
/// <param name="Interface">The network interface that reaches the other nodes (<c>node.interface</c>, e.g. <c>eth0</c>): MPI traffic
/// and Hydra's control connections use it; null = MPICH's own choice.</param>
/// <param name="WorkerEnvironment">Variables for every rank of gangs this node launches or runs (<c>node.worker_env</c>: site settings
/// such as <c>UCX_TLS</c>); empty = none.</param>
public sealed partial record NodeConfig(string Name, IPAddress Address, int Slots, int Gpus, ImmutableSortedDictionary<string, string> Labels,
    string? Interface = null, ImmutableSortedDictionary<string, string>? WorkerEnvironment = null)
{
    /// <summary>Whether <paramref name="name"/> can be a network interface name (1-15 characters, no '/', blanks or ':').</summary>
    public static bool IsValidInterface(string name) => InterfacePattern().IsMatch(name);

    /// <summary>The rule a node name follows (host-name characters, so it can be a host name).</summary>
    public const string NameRule = "1-63 letters, digits, '-', '_' or '.', starting with a letter or digit";

    /// <summary>Whether <paramref name="name"/> follows <see cref="NameRule"/>.</summary>
    public static bool IsValidName(string name) => NamePattern().IsMatch(name);

    /// <summary>The default node name: this machine's host name.</summary>
    public static string DefaultName() => Environment.MachineName;

    /// <summary>NVIDIA GPUs this machine shows as <c>/dev/nvidiaN</c> (0 without a driver).</summary>
    public static int DetectGpus()
    {
        try
        {
            return Directory.Exists("/dev") ? Directory.EnumerateFiles("/dev", "nvidia*").Count(f => DevicePattern().IsMatch(Path.GetFileName(f))) : 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[A-Za-z0-9._-]{1,15}$")]
    private static partial Regex InterfacePattern();

    [GeneratedRegex("^nvidia[0-9]+$")]
    private static partial Regex DevicePattern();
}
