using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Orchestrator.Silos.Security;

/// <summary>
/// One TLS handshake with a gateway, made by a client before (or after a failed) Orleans connection, to name the cause when
/// the two sides do not agree: the gateway's certificate is not from this client's authority (or expired), the gateway
/// refused this client's certificate (then the local reason is given: expired, another authority, wrong key usage), the
/// gateway does not speak TLS, or it requires TLS from a client that has none. The Orleans client itself only sees a
/// connection that closes. The probe offers TLS 1.2 only: there the server's verdict on the client's certificate is part
/// of the handshake (in TLS 1.3 it arrives after it); the silos accept 1.2 and 1.3.
/// </summary>
public static class TlsProbe
{
    /// <summary>How long a probe waits after its handshake for the gateway's verdict on the client certificate: a .NET server
    /// checks it once its side of the handshake is done and then closes a refused connection at once.</summary>
    public static readonly TimeSpan VerdictWait = TimeSpan.FromSeconds(2);

    /// <summary>Null when the gateway and this client accept each other's certificates; else the cause, in words.</summary>
    /// <param name="gateway">The gateway.</param>
    /// <param name="tls">This client's material.</param>
    /// <param name="timeout">Limit of the connect and handshake.</param>
    public static async Task<string?> ProblemAsync(IPEndPoint gateway, TlsCredentials tls, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(gateway);
        ArgumentNullException.ThrowIfNull(tls);
        string? gatewayProblem = null;
        X509Certificate2? gatewayCertificate = null;
        var outcome = await HandshakeAsync(gateway, tls.Certificate, timeout, VerdictWait, (certificate, chain) =>
        {
            gatewayCertificate = certificate;
            gatewayProblem = certificate is null ? "presented no certificate" : tls.Peers.Problem(certificate, CertificatePurpose.Server, DateTime.UtcNow, chain);
            return gatewayProblem is null;
        });
        if (outcome.Error is null) return null;
        if (gatewayProblem is not null)
            return gatewayCertificate is null
                ? $"the gateway {gatewayProblem}"
                : $"the gateway's certificate ({gatewayCertificate.Subject}) is refused by this client: {gatewayProblem} (this client trusts {tls.Paths.Names.Ca} {tls.Paths.Ca} only)";
        if (!outcome.GatewaySpokeTls)
            return $"the gateway does not speak TLS ({outcome.Error}): a silo without a tls section speaks plain TCP (drop the --tls-* options and ORCHESTRATOR_TLS_* variables for it)";
        var own = tls.OwnCertificateProblem(DateTime.UtcNow, CertificatePurpose.Client)
            ?? "it is valid for this client's CA, so the gateway's tls.ca is probably another authority";
        return $"the gateway refused this client's certificate {tls.Paths.Names.Certificate} {tls.Paths.Certificate} ({PeerCertificateCheck.Describe(tls.Certificate)}): {own}";
    }

    /// <summary>Whether the gateway speaks TLS (it answers a TLS hello made without a certificate with a TLS record).</summary>
    public static async Task<bool> RequiresTlsAsync(IPEndPoint gateway, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(gateway);
        return (await HandshakeAsync(gateway, null, timeout, TimeSpan.Zero, (_, _) => false)).GatewaySpokeTls;
    }

    /// <summary>How a probe handshake went: <paramref name="Error"/> null on success.</summary>
    private sealed record Outcome(string? Error, bool GatewaySpokeTls);

    private static async Task<Outcome> HandshakeAsync(IPEndPoint gateway, X509Certificate2? own, TimeSpan timeout, TimeSpan verdictWait,
        Func<X509Certificate2?, X509Chain?, bool> validate)
    {
        using var limit = new CancellationTokenSource(timeout);
        using var socket = new Socket(gateway.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        FirstByteStream? recorded = null;
        try
        {
            await socket.ConnectAsync(gateway, limit.Token);
            recorded = new FirstByteStream(new NetworkStream(socket, ownsSocket: false));
            await using var ssl = new SslStream(recorded, leaveInnerStreamOpen: false);
            var options = new SslClientAuthenticationOptions
            {
                TargetHost = gateway.Address.ToString(),
                EnabledSslProtocols = SslProtocols.Tls12,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                // A copy: the stream disposes the certificate it passes once the callback returns.
                RemoteCertificateValidationCallback = (_, certificate, chain, _) =>
                    validate(certificate is null ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()), chain),
                LocalCertificateSelectionCallback = own is null ? null : (_, _, _, _, _) => own,
            };
            await ssl.AuthenticateAsClientAsync(options, limit.Token);
            if (verdictWait <= TimeSpan.Zero) return new Outcome(null, true);
            // An Orleans gateway sends nothing before the client's preamble: silence is acceptance, a close is refusal.
            using var verdict = new CancellationTokenSource(verdictWait);
            try
            {
                var read = await ssl.ReadAsync(new byte[1], verdict.Token);
                return read == 0 ? new Outcome("the gateway closed the connection after the handshake", true) : new Outcome(null, true);
            }
            catch (OperationCanceledException) when (verdict.IsCancellationRequested && !limit.IsCancellationRequested)
            {
                return new Outcome(null, true);
            }
        }
        catch (OperationCanceledException)
        {
            return new Outcome($"no answer within {timeout.TotalSeconds:0} s", recorded?.First == HandshakeRecord);
        }
        catch (Exception e) when (e is AuthenticationException or IOException or SocketException)
        {
            return new Outcome(Innermost(e).Message.Split('\n', 2)[0].Trim(), recorded?.First == HandshakeRecord);
        }
    }

    /// <summary>The content type byte that starts a TLS handshake record (a server's hello).</summary>
    private const int HandshakeRecord = 0x16;

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }

    /// <summary>Passes a stream through and keeps the first byte the gateway sent (-1 while none).</summary>
    private sealed class FirstByteStream(Stream inner) : Stream
    {
        public int First { get; private set; } = -1;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => inner.WriteAsync(buffer, cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => Note(buffer.AsSpan(offset), inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            return Note(buffer.Span, read);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private int Note(Span<byte> buffer, int read)
        {
            if (First < 0 && read > 0) First = buffer[0];
            return read;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
