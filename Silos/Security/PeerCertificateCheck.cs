using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Orchestrator.Silos.Security;

/// <summary>What a certificate is presented for: the extended key usage it must allow (when it has that extension).</summary>
public enum CertificatePurpose
{
    /// <summary>The accepting side of a connection (a gateway, or a silo taking a silo connection): TLS server authentication.</summary>
    Server,

    /// <summary>The connecting side (a CLI client, a worker, a silo connecting to a silo): TLS client authentication.</summary>
    Client,
}

/// <summary>
/// Decides whether a peer's certificate is acceptable: its chain must end at one of the configured authority's certificates
/// (a custom trust store: the system's roots are never consulted), every certificate in it must be valid at the given time,
/// and an extended key usage, when present, must allow the purpose. The peer's name is not checked: silos bind pod or
/// machine addresses that no certificate lists, so what identifies a member of the cluster is holding a certificate its
/// authority issued (and its key). No I/O; revocation is not checked (no CRL or OCSP source here).
/// </summary>
/// <param name="authority">The authority's certificates: self-signed ones are trust anchors, others are intermediates.</param>
public sealed class PeerCertificateCheck(X509Certificate2Collection authority)
{
    private const string ServerAuthentication = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuthentication = "1.3.6.1.5.5.7.3.2";

    /// <summary>The configured authority.</summary>
    public X509Certificate2Collection Authority { get; } = authority ?? throw new ArgumentNullException(nameof(authority));

    /// <summary>
    /// Null when <paramref name="certificate"/> is acceptable for <paramref name="purpose"/> at <paramref name="now"/>;
    /// otherwise every reason it is not, in words (e.g. <c>expired on 2026-01-02 03:04:05Z</c>, <c>not issued by the
    /// configured CA (CN=orchestrator-ca); its issuer is CN=other-ca</c>).
    /// </summary>
    /// <param name="certificate">The peer's certificate.</param>
    /// <param name="purpose">What it is presented for.</param>
    /// <param name="now">The time of the check (UTC).</param>
    /// <param name="presentedChain">Intermediate certificates the peer sent along, if any.</param>
    public string? Problem(X509Certificate2 certificate, CertificatePurpose purpose, DateTime now, X509Chain? presentedChain = null)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now.ToLocalTime();
        chain.ChainPolicy.VerificationTimeIgnored = false;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(purpose == CertificatePurpose.Server ? ServerAuthentication : ClientAuthentication));
        foreach (var item in Authority)
        {
            if (item.SubjectName.RawData.AsSpan().SequenceEqual(item.IssuerName.RawData)) chain.ChainPolicy.CustomTrustStore.Add(item);
            else chain.ChainPolicy.ExtraStore.Add(item);
        }
        if (presentedChain is not null)
            foreach (var element in presentedChain.ChainElements)
                if (!element.Certificate.Equals(certificate)) chain.ChainPolicy.ExtraStore.Add(element.Certificate);

        if (chain.Build(certificate)) return null;
        var reasons = new List<string>();
        var flags = chain.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (all, s) => all | s.Status);
        if (flags.HasFlag(X509ChainStatusFlags.NotTimeValid) || now < certificate.NotBefore.ToUniversalTime() || now > certificate.NotAfter.ToUniversalTime())
        {
            var expired = chain.ChainElements.Select(e => e.Certificate).Prepend(certificate)
                .FirstOrDefault(c => now > c.NotAfter.ToUniversalTime() || now < c.NotBefore.ToUniversalTime()) ?? certificate;
            var whose = expired.Equals(certificate) ? "" : $"its issuer {expired.Subject} ";
            reasons.Add(now > expired.NotAfter.ToUniversalTime()
                ? $"{whose}expired on {Stamp(expired.NotAfter)}"
                : $"{whose}is not valid before {Stamp(expired.NotBefore)}");
        }
        if (flags.HasFlag(X509ChainStatusFlags.UntrustedRoot) || flags.HasFlag(X509ChainStatusFlags.PartialChain))
            reasons.Add($"not issued by the configured CA ({string.Join(", ", Authority.Select(a => a.Subject))}); its issuer is {certificate.Issuer}");
        if (flags.HasFlag(X509ChainStatusFlags.NotValidForUsage))
            reasons.Add($"its extended key usage does not allow TLS {(purpose == CertificatePurpose.Server ? "server" : "client")} authentication");
        if (flags.HasFlag(X509ChainStatusFlags.NotSignatureValid))
            reasons.Add("its signature does not verify");
        var known = X509ChainStatusFlags.NotTimeValid | X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain
            | X509ChainStatusFlags.NotValidForUsage | X509ChainStatusFlags.NotSignatureValid;
        if ((flags & ~known) != X509ChainStatusFlags.NoError || reasons.Count == 0)
            reasons.AddRange(chain.ChainStatus.Where(s => (s.Status & known) == 0).Select(s => s.StatusInformation.Trim().TrimEnd('.')).Where(s => s.Length > 0));
        if (reasons.Count == 0) reasons.Add("its chain does not verify");
        return string.Join("; ", reasons.Distinct(StringComparer.Ordinal));
    }

    /// <summary>A certificate's subject and validity, for messages.</summary>
    public static string Describe(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return $"{certificate.Subject}, issued by {certificate.Issuer}, valid {Stamp(certificate.NotBefore)} to {Stamp(certificate.NotAfter)}";
    }

    private static string Stamp(DateTime time) => time.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
