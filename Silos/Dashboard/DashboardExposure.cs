using System.Net;
using Orchestrator.Silos.Config;

namespace Orchestrator.Silos.Dashboard;

/// <summary>
/// Who may reach the dashboard. It is plain HTTP without authentication (the <c>tls</c> section covers the silo and gateway
/// ports, not it), and it shows every silo, grain type and job grain's state to whoever reaches it. So the rule follows the
/// silo's own ports (<see cref="Security.PlainTextExposure"/>): loopback by default; beyond loopback on a cluster without
/// TLS a warning, since that cluster's own ports are open the same way; beyond loopback on a cluster WITH TLS a config
/// error, because there the dashboard would be the one unauthenticated way in.
/// </summary>
public static class DashboardExposure
{
    /// <summary>Why <paramref name="address"/> may not be used, or null: only a non-loopback address on a TLS cluster is refused.</summary>
    public static string? Refusal(IPAddress address, bool clusterHasTls)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (!clusterHasTls || IPAddress.IsLoopback(address)) return null;
        return $"{address} is not a loopback address, and the dashboard has neither TLS nor authentication: on a cluster with tls it "
            + "would let anyone who reaches it see every silo and job. Keep 127.0.0.1 and reach it through `ssh -L` or `kubectl port-forward`";
    }

    /// <summary>The warning <c>up</c> prints for <paramref name="config"/>'s dashboard; null when it has none or binds loopback.</summary>
    public static string? Warning(SiloConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.Dashboard is not { } dashboard || IPAddress.IsLoopback(dashboard.Address)) return null;
        return $"warning: dashboard.address {dashboard.Address} is not a loopback address: anyone who reaches port {dashboard.Port} "
            + "sees this cluster's silos, grains and job state (plain HTTP, no login). Keep 127.0.0.1 and use `ssh -L` or "
            + "`kubectl port-forward`, or make sure only trusted machines reach that port.";
    }
}
