using System.Net;
using Orchestrator.Silos.Config;

namespace Orchestrator.Silos.Security;

/// <summary>
/// The warning <c>up</c> prints when a silo without TLS listens beyond loopback: its silo and gateway ports then accept any
/// peer that reaches them (an Orleans client can submit jobs, and through a node's agent start processes, as the silo's user).
/// </summary>
public static class PlainTextExposure
{
    /// <summary>The warning for <paramref name="config"/>; null when it has TLS or binds loopback.</summary>
    public static string? Warning(SiloConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.Tls is not null || (IPAddress.IsLoopback(config.Host) && !config.ListenAny)) return null;
        string where = config.ListenAny ? "silo.listen_any listens on every address" : $"silo.host {config.Host} is not a loopback address";
        return $"warning: {where} and the config has no tls section: anyone who reaches ports "
            + $"{config.SiloPort} (silo) and {config.GatewayPort} (gateway) can join this cluster, submit jobs and start processes as this user. "
            + "Add tls: { certificate, key, ca } (mutual TLS, README \"Mutual TLS\"), or make sure only trusted machines reach those ports "
            + "(on Kubernetes: the NetworkPolicies of k8s/base).";
    }
}
