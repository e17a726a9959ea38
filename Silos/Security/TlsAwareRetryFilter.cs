using System.Net;
using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace Orchestrator.Silos.Security;

/// <summary>
/// The CLI client's connection retries: when connecting to its gateway fails, one <see cref="TlsProbe"/> handshake asks
/// whether TLS is the cause (a certificate either side refuses, a gateway that requires TLS from a client without it, or
/// does not speak it); then retrying cannot help, so it stops and keeps the cause (<see cref="Cause"/>) for the message.
/// Otherwise it retries like Orleans' default (linear backoff: 1.5 s, 3 s, ...; the caller's time limit ends it).
/// </summary>
/// <param name="gateway">The gateway the client connects to; null (a gateway list from Redis) = no probe.</param>
/// <param name="tls">The client's TLS material; null = a plain client.</param>
/// <param name="probeTimeout">Limit of one probe's connect and handshake.</param>
public sealed class TlsAwareRetryFilter(IPEndPoint? gateway, TlsCredentials? tls, TimeSpan probeTimeout) : IClientConnectionRetryFilter
{
    private static readonly TimeSpan Step = TimeSpan.FromSeconds(1.5);
    private int retries;
    private bool probed;

    /// <summary>Why the connection cannot work, when a probe found a TLS cause; null otherwise.</summary>
    public string? Cause { get; private set; }

    /// <inheritdoc />
    public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested) return false;
        if (gateway is not null && !probed)
        {
            probed = true; // once: a gateway still starting up fails the same way on every try
            Cause = tls is not null
                ? await TlsProbe.ProblemAsync(gateway, tls, probeTimeout).ConfigureAwait(false)
                : await TlsProbe.RequiresTlsAsync(gateway, probeTimeout).ConfigureAwait(false)
                    ? $"the gateway requires mutual TLS and this client has no certificate (give --tls-cert, --tls-key and --tls-ca, or ${TlsPaths.CertificateVariable}, ${TlsPaths.KeyVariable} and ${TlsPaths.CaVariable})"
                    : null;
            if (Cause is not null) return false;
        }
        if (exception is not (OrleansMessageRejectionException or ConnectionFailedException)) return false;
        retries++;
        try { await Task.Delay(Step * retries, cancellationToken).ConfigureAwait(false); }
        catch (OperationCanceledException) { return false; }
        return true;
    }
}
