using System.Collections.Concurrent;
using System.Security.Authentication;
using Orleans.Configuration;
using Orleans.Connections.Security;

namespace Orchestrator.Silos.Security;

/// <summary>
/// Mutual TLS on the Orleans connections (<c>Microsoft.Orleans.Connections.Security</c>): a silo's gateway and silo ports
/// accept only peers presenting a certificate the configured authority issued (<see cref="PeerCertificateCheck"/>), and a
/// silo or client connecting out presents its own and accepts only such a peer. Every connection is TLS 1.2 or 1.3 with a
/// certificate on both sides; nothing falls back to plain TCP. A silo writes the reason of every refused certificate to
/// standard error (each distinct reason at most once a minute).
/// </summary>
public static class ClusterTls
{
    private static readonly TimeSpan RepeatAfter = TimeSpan.FromMinutes(1);
    private static readonly ConcurrentDictionary<string, DateTime> Reported = new(StringComparer.Ordinal);

    /// <summary>How long a TLS handshake may take.</summary>
    public static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Puts TLS on a silo's inbound (gateway and silo) and outbound (silo) connections.</summary>
    public static void Configure(ISiloBuilder silo, TlsCredentials tls)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentNullException.ThrowIfNull(tls);
        var accepting = Options(tls, CertificatePurpose.Client, Report);
        var connecting = Options(tls, CertificatePurpose.Server, Report);
        silo.Configure<SiloConnectionOptions>(connections =>
        {
            connections.ConfigureSiloInboundConnection(b => b.UseServerTls(accepting));
            connections.ConfigureGatewayInboundConnection(b => b.UseServerTls(accepting));
            connections.ConfigureSiloOutboundConnection(b => b.UseClientTls(connecting));
        });
    }

    /// <summary>Puts TLS on a client's connections to gateways.</summary>
    public static void Configure(IClientBuilder client, TlsCredentials tls)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(tls);
        var connecting = Options(tls, CertificatePurpose.Server, report: null);
        client.Configure<ClientConnectionOptions>(connections => connections.ConfigureConnection(b => b.UseClientTls(connecting)));
    }

    /// <summary>The TLS options of one side; <paramref name="peerPurpose"/> is what the peer's certificate must allow.</summary>
    private static TlsOptions Options(TlsCredentials tls, CertificatePurpose peerPurpose, Action<string>? report)
    {
        var certificate = tls.Certificate;
        return new TlsOptions
        {
            LocalCertificate = certificate,
            // Always present the certificate, whatever authorities the server names in its request.
            LocalClientCertificateSelector = (_, _, _, _, _) => certificate,
            RemoteCertificateMode = RemoteCertificateMode.RequireCertificate,
            ClientCertificateMode = RemoteCertificateMode.RequireCertificate,
            SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            HandshakeTimeout = HandshakeTimeout,
            // Replaces the system-store verdict (sslPolicyErrors): the chain is checked against the configured authority only.
            RemoteCertificateValidation = (peer, chain, _) =>
            {
                var problem = tls.Peers.Problem(peer, peerPurpose, DateTime.UtcNow, chain);
                if (problem is not null) report?.Invoke($"refused a connection: the peer's certificate ({peer.Subject}) {problem}");
                return problem is null;
            },
        };
    }

    private static void Report(string message)
    {
        var now = DateTime.UtcNow;
        if (Reported.TryGetValue(message, out var last) && now - last < RepeatAfter) return;
        Reported[message] = now;
        Console.Error.WriteLine($"tls: {message}");
    }
}
