using System.CommandLine;
using Orchestrator.Silos.Config;
using Orchestrator.Silos.Hosting;
using Orchestrator.Silos.Security;
using Orchestrator.Spec;

namespace Orchestrator.Silos.Commands;

/// <summary>
/// The options every client command (<c>submit</c>, <c>status</c>, <c>scale</c>, <c>cancel</c>, <c>logs</c>) shares: where
/// the cluster is. <c>--silo</c> (default <c>127.0.0.1:30000</c>, or <c>ORCHESTRATOR_SILO</c>) names one gateway;
/// <c>--redis</c> finds any live gateway of the cluster through Redis membership; <c>--cluster</c> is the cluster id;
/// <c>--tls-cert</c>, <c>--tls-key</c>, <c>--tls-ca</c> (or <c>ORCHESTRATOR_TLS_*</c>) for a cluster with mutual TLS.
/// </summary>
public sealed class ClientOptions
{
    /// <summary>Environment variable with the default <c>--silo</c>.</summary>
    public const string SiloVariable = "ORCHESTRATOR_SILO";

    /// <summary>Environment variable with the default <c>--cluster</c>.</summary>
    public const string ClusterVariable = "ORCHESTRATOR_CLUSTER_ID";

    private readonly Option<string?> silo = new("--silo")
    {
        Description = $"Silo gateway host:port (default: ${SiloVariable} or 127.0.0.1:{SiloConfig.DefaultGatewayPort})",
    };

    private readonly Option<string?> redis = new("--redis")
    {
        Description = "Redis host:port of a cluster: connect to any live silo's gateway",
    };

    private readonly Option<string?> cluster = new("--cluster")
    {
        Description = $"Cluster id of the silos (default: ${ClusterVariable} or {SiloConfig.DefaultClusterId})",
    };

    private readonly Option<string?> tlsCertificate = new("--tls-cert")
    {
        Description = $"This client's certificate for a cluster with mutual TLS (PEM, or PFX holding the key; default: ${TlsPaths.CertificateVariable})",
    };

    private readonly Option<string?> tlsKey = new("--tls-key")
    {
        Description = $"The private key of --tls-cert (PEM; default: ${TlsPaths.KeyVariable}; not needed when the certificate file holds it)",
    };

    private readonly Option<string?> tlsCa = new("--tls-ca")
    {
        Description = $"The certificate authority the gateway's certificate must be issued by (PEM; default: ${TlsPaths.CaVariable})",
    };

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        command.Options.Add(silo);
        command.Options.Add(redis);
        command.Options.Add(cluster);
        command.Options.Add(tlsCertificate);
        command.Options.Add(tlsKey);
        command.Options.Add(tlsCa);
    }

    /// <summary>The cluster the parsed command line points at.</summary>
    public ClusterTarget Target(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        var siloText = parse.GetValue(silo) ?? NonEmpty(Environment.GetEnvironmentVariable(SiloVariable)) ?? $"127.0.0.1:{SiloConfig.DefaultGatewayPort}";
        var redisText = parse.GetValue(redis);
        if (redisText is not null && !SiloConfigLoader.TryParseEndpoint(redisText, out _))
            throw new UserFacingException($"--redis: expected host:port, got '{redisText}'");
        var clusterId = parse.GetValue(cluster) ?? NonEmpty(Environment.GetEnvironmentVariable(ClusterVariable)) ?? SiloConfig.DefaultClusterId;
        var tls = TlsPaths.ForClient(parse.GetValue(tlsCertificate), parse.GetValue(tlsKey), parse.GetValue(tlsCa), Environment.GetEnvironmentVariable);
        return new ClusterTarget(siloText, redisText, clusterId, tls);
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
