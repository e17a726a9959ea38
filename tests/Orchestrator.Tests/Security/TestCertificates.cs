using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Orchestrator.Tests.Security;

/// <summary>
/// Certificates made in the test (ECDSA P-256, so each takes milliseconds): authorities, and certificates they issue for a
/// silo (server and client authentication), a client, or any validity window; written as PEM files when a test needs paths.
/// </summary>
internal static class TestCertificates
{
    public const string ServerAuthentication = "1.3.6.1.5.5.7.3.1";
    public const string ClientAuthentication = "1.3.6.1.5.5.7.3.2";

    /// <summary>A self-signed authority valid from 90 days ago for a year (room for expired certificates it issued).</summary>
    public static X509Certificate2 Authority(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-90), DateTimeOffset.UtcNow.AddYears(1));
    }

    /// <summary>A certificate <paramref name="issuer"/> signs, with its private key, for the given key usages and window.</summary>
    public static X509Certificate2 Issue(X509Certificate2 issuer, string name, string[] usages, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        var oids = new OidCollection();
        foreach (var usage in usages) oids.Add(new Oid(usage));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(oids, false));
        var serial = new byte[12];
        RandomNumberGenerator.Fill(serial);
        serial[0] &= 0x7f;
        using var issued = request.Create(issuer, notBefore ?? DateTimeOffset.UtcNow.AddHours(-1), notAfter ?? DateTimeOffset.UtcNow.AddDays(30), serial);
        return issued.CopyWithPrivateKey(key);
    }

    /// <summary>A silo's certificate: server and client authentication.</summary>
    public static X509Certificate2 Silo(X509Certificate2 authority, string name = "silo") => Issue(authority, name, [ServerAuthentication, ClientAuthentication]);

    /// <summary>A client's certificate: client authentication.</summary>
    public static X509Certificate2 Client(X509Certificate2 authority, string name = "client", DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null) =>
        Issue(authority, name, [ClientAuthentication], notBefore, notAfter);

    /// <summary>Writes <c>NAME.crt</c> (certificate PEM) and <c>NAME.key</c> (PKCS#8 PEM) into <paramref name="directory"/>; returns both paths.</summary>
    public static (string Certificate, string Key) WritePem(X509Certificate2 certificate, string directory, string name)
    {
        var certificatePath = Path.Combine(directory, $"{name}.crt");
        var keyPath = Path.Combine(directory, $"{name}.key");
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        if (certificate.GetECDsaPrivateKey() is { } key)
            using (key) File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return (certificatePath, keyPath);
    }
}
