using System.Security.Cryptography.X509Certificates;
using Orchestrator.Silos.Security;
using static Orchestrator.Tests.Security.TestCertificates;

namespace Orchestrator.Tests.Security;

/// <summary>The peer check every TLS connection runs: the configured authority only, validity, key usage, and the words of each refusal.</summary>
public sealed class PeerCertificateCheckTests
{
    private static readonly X509Certificate2 Ca = Authority("orchestrator-ca");
    private static readonly X509Certificate2 OtherCa = Authority("other-ca");
    private static readonly PeerCertificateCheck Check = new([Ca]);

    [Fact]
    public void A_certificate_the_authority_issued_is_accepted_for_its_usages()
    {
        using var silo = Silo(Ca);
        using var client = Client(Ca);
        Assert.Null(Check.Problem(silo, CertificatePurpose.Server, DateTime.UtcNow));
        Assert.Null(Check.Problem(silo, CertificatePurpose.Client, DateTime.UtcNow));
        Assert.Null(Check.Problem(client, CertificatePurpose.Client, DateTime.UtcNow));
    }

    [Fact]
    public void Another_authority_is_refused_naming_both_issuers_even_when_the_system_would_trust_it()
    {
        using var stranger = Client(OtherCa);
        var problem = Check.Problem(stranger, CertificatePurpose.Client, DateTime.UtcNow);
        Assert.NotNull(problem);
        Assert.Contains("not issued by the configured CA (CN=orchestrator-ca)", problem);
        Assert.Contains("its issuer is CN=other-ca", problem);
        // A self-signed certificate is its own authority: it is refused too, whatever it claims.
        Assert.Contains("not issued by the configured CA", Check.Problem(OtherCa, CertificatePurpose.Client, DateTime.UtcNow));
    }

    [Fact]
    public void An_expired_or_not_yet_valid_certificate_is_refused_with_its_dates()
    {
        using var expired = Client(Ca, notBefore: DateTimeOffset.UtcNow.AddDays(-10), notAfter: DateTimeOffset.UtcNow.AddDays(-2));
        var problem = Check.Problem(expired, CertificatePurpose.Client, DateTime.UtcNow);
        Assert.NotNull(problem);
        Assert.Contains($"expired on {expired.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm:ss}Z", problem);
        Assert.DoesNotContain("not issued", problem);
        // The same certificate at a time inside its window passes: the time decides, not the certificate.
        Assert.Null(Check.Problem(expired, CertificatePurpose.Client, DateTime.UtcNow.AddDays(-5)));

        using var future = Client(Ca, notBefore: DateTimeOffset.UtcNow.AddDays(2), notAfter: DateTimeOffset.UtcNow.AddDays(10));
        Assert.Contains("is not valid before", Check.Problem(future, CertificatePurpose.Client, DateTime.UtcNow));
    }

    [Fact]
    public void A_key_usage_that_does_not_allow_the_purpose_is_refused()
    {
        using var client = Client(Ca);
        var problem = Check.Problem(client, CertificatePurpose.Server, DateTime.UtcNow);
        Assert.NotNull(problem);
        Assert.Contains("does not allow TLS server authentication", problem);
        using var serverOnly = Issue(Ca, "server-only", [ServerAuthentication]);
        Assert.Contains("does not allow TLS client authentication", Check.Problem(serverOnly, CertificatePurpose.Client, DateTime.UtcNow));
    }

    [Fact]
    public void An_intermediate_in_the_ca_file_completes_the_chain()
    {
        using var intermediateFull = IssueIntermediate(Ca, "orchestrator-intermediate");
        using var leaf = Client(intermediateFull);
        using var intermediate = X509CertificateLoader.LoadCertificate(intermediateFull.RawData); // no private key in a CA file
        Assert.Null(new PeerCertificateCheck([Ca, intermediate]).Problem(leaf, CertificatePurpose.Client, DateTime.UtcNow));
        // Without the root the intermediate is no anchor: a CA file must hold the root.
        Assert.Contains("not issued by the configured CA", new PeerCertificateCheck([intermediate]).Problem(leaf, CertificatePurpose.Client, DateTime.UtcNow));
    }

    private static X509Certificate2 IssueIntermediate(X509Certificate2 root, string name)
    {
        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        using var issued = request.Create(root, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(60), [1, 2, 3, 4]);
        return issued.CopyWithPrivateKey(key);
    }
}
