using System.Globalization;
using System.Net;

namespace Orchestrator.Silos.Dashboard;

/// <summary>
/// Where <c>orchestrator up</c> serves the Orleans dashboard (the <c>dashboard</c> section of the silo config:
/// <c>dashboard: { enabled, address, port }</c>). The section's presence turns it on; without it no web server starts.
/// </summary>
/// <param name="Address">The address the dashboard listens on (<c>dashboard.address</c>; loopback by default: reach it
/// through <c>ssh -L</c> or <c>kubectl port-forward</c>, which connects to a pod's loopback).</param>
/// <param name="Port">Its TCP port (<c>dashboard.port</c>).</param>
public sealed record DashboardConfig(IPAddress Address, int Port)
{
    /// <summary>The default port (the Orleans dashboard's customary one).</summary>
    public const int DefaultPort = 8080;

    /// <summary>The default address: this machine (or pod) only.</summary>
    public static IPAddress DefaultAddress => IPAddress.Loopback;

    /// <summary>The URL a browser on this machine opens (a wildcard address shown as loopback, which it also serves).</summary>
    public string Url
    {
        get
        {
            var shown = Address.Equals(IPAddress.Any) ? IPAddress.Loopback : Address.Equals(IPAddress.IPv6Any) ? IPAddress.IPv6Loopback : Address;
            var host = shown.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{shown}]" : shown.ToString();
            return $"http://{host}:{Port.ToString(CultureInfo.InvariantCulture)}/";
        }
    }

    /// <summary>The endpoint the web server binds.</summary>
    public IPEndPoint Endpoint => new(Address, Port);
}
