using System.Net;
using System.Net.NetworkInformation;

namespace Orchestrator.Silos.Config;

/// <summary>
/// A node's address must be one of its own machine's: the other nodes reach its silo, its Hydra proxies and its ranks
/// there, so a typo (or another machine's address) would make every gang placed on it fail far from the cause.
/// </summary>
public static class NodeAddressCheck
{
    /// <summary>Why <paramref name="address"/> is not an address of this machine (naming the ones it has), or null when it is.</summary>
    public static string? NotLocal(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        var local = NetworkInterface.GetAllNetworkInterfaces()
            .SelectMany(i => i.GetIPProperties().UnicastAddresses.Select(a => a.Address)).ToList();
        if (local.Contains(address)) return null;
        return $"{address} is not an address of this machine (its addresses: {string.Join(", ", local.Select(a => a.ToString()).Order(StringComparer.Ordinal))}); " +
            "other nodes reach this node's silo, proxies and ranks there";
    }
}
