using System.Net;
using System.Security.Cryptography.X509Certificates;
using Orchestrator.Silos.Config;
using Orchestrator.Silos.Security;
using Orchestrator.Spec;
using static Orchestrator.Tests.Security.TestCertificates;

namespace Orchestrator.Tests.Security;

/// <summary>
/// How TLS material is given and loaded: the silo config's <c>tls</c> section, a client's options and variables, the files
/// (PEM with a separate or embedded key, PFX) and the message of each mistake; and the warning for a silo that listens
/// beyond loopback without TLS.
/// </summary>
public sealed class TlsMaterialTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly X509Certificate2 ca = Authority("material-ca");

    public void Dispose()
    {
        ca.Dispose();
        dir.Dispose();
    }

    private string CaFile() => File.Exists(dir.File("ca.crt")) ? dir.File("ca.crt") : WritePem(ca, dir.Path, "ca").Certificate;

    private static TlsPaths Paths(string certificate, string? key, string caPath) => new(certificate, key, caPath, TlsFieldNames.Config);

    [Fact]
    public void Pem_with_a_key_file_pem_with_the_key_inside_and_pfx_all_load()
    {
        using var silo = Silo(ca);
        var (certificate, key) = WritePem(silo, dir.Path, "silo");
        var loaded = TlsCredentials.Load(Paths(certificate, key, CaFile()));
        Assert.True(loaded.Certificate.HasPrivateKey);
        Assert.Equal(silo.Thumbprint, loaded.Certificate.Thumbprint);
        Assert.Null(loaded.OwnCertificateProblem(DateTime.UtcNow, CertificatePurpose.Server));

        var combined = dir.File("combined.pem");
        File.WriteAllText(combined, File.ReadAllText(certificate) + "\n" + File.ReadAllText(key));
        Assert.Equal(silo.Thumbprint, TlsCredentials.Load(Paths(combined, null, CaFile())).Certificate.Thumbprint);

        var pfx = dir.File("silo.pfx");
        File.WriteAllBytes(pfx, silo.Export(X509ContentType.Pkcs12));
        var fromPfx = TlsCredentials.Load(Paths(pfx, null, CaFile()));
        Assert.True(fromPfx.Certificate.HasPrivateKey);
        Assert.Equal(silo.Thumbprint, fromPfx.Certificate.Thumbprint);
    }

    [Fact]
    public void Each_file_mistake_names_the_field_the_file_and_the_problem()
    {
        using var silo = Silo(ca);
        using var other = Silo(ca, "other");
        var (certificate, key) = WritePem(silo, dir.Path, "silo");
        var (_, otherKey) = WritePem(other, dir.Path, "other");
        var caPath = CaFile();

        string Error(TlsPaths paths) => Assert.Throws<UserFacingException>(() => TlsCredentials.Load(paths)).Message;

        Assert.Equal($"tls.certificate {dir.File("none.crt")}: file not found", Error(Paths(dir.File("none.crt"), key, caPath)));
        Assert.Equal($"tls.key {dir.File("none.key")}: file not found", Error(Paths(certificate, dir.File("none.key"), caPath)));
        Assert.Equal($"tls.ca {dir.File("none-ca.crt")}: file not found", Error(Paths(certificate, key, dir.File("none-ca.crt"))));
        Assert.StartsWith($"tls.certificate {certificate}: no private key in the file; give tls.key", Error(Paths(certificate, null, caPath)));
        Assert.Equal($"tls.certificate {certificate} with tls.key {otherKey}: the private key does not belong to the certificate",
            Error(Paths(certificate, otherKey, caPath)));
        var empty = dir.File("empty.pem");
        File.WriteAllText(empty, "# nothing here\n");
        Assert.StartsWith($"tls.ca {empty}: no certificate in the file", Error(Paths(certificate, key, empty)));
        Assert.StartsWith($"tls.certificate {dir.Path}: is a directory", Error(Paths(dir.Path, key, caPath)));
    }

    [Fact]
    public void A_client_takes_each_option_else_its_variable_and_needs_certificate_and_ca_together()
    {
        var variables = new Dictionary<string, string>
        {
            [TlsPaths.CertificateVariable] = "/env/client.crt",
            [TlsPaths.KeyVariable] = "/env/client.key",
            [TlsPaths.CaVariable] = "/env/ca.crt",
        };
        string? Env(string name) => variables.GetValueOrDefault(name);
        string? None(string name) => null;

        Assert.Null(TlsPaths.ForClient(null, null, null, None));
        var fromEnvironment = TlsPaths.ForClient(null, null, null, Env)!;
        Assert.Equal(("/env/client.crt", "/env/client.key", "/env/ca.crt"), (fromEnvironment.Certificate, fromEnvironment.Key, fromEnvironment.Ca));
        var mixed = TlsPaths.ForClient("/opt/me.crt", null, null, Env)!;
        Assert.Equal(("/opt/me.crt", "/env/client.key", "/env/ca.crt"), (mixed.Certificate, mixed.Key, mixed.Ca));
        // What the silo hands its workers reads back as the same paths.
        var handed = fromEnvironment.ToEnvironment();
        Assert.Equal(fromEnvironment, TlsPaths.ForClient(null, null, null, n => handed.GetValueOrDefault(n)));

        Assert.Contains("--tls-cert ($ORCHESTRATOR_TLS_CERT) is given without --tls-ca",
            Assert.Throws<UserFacingException>(() => TlsPaths.ForClient("/a.crt", null, null, None)).Message);
        Assert.Contains("--tls-ca ($ORCHESTRATOR_TLS_CA) is given without --tls-cert",
            Assert.Throws<UserFacingException>(() => TlsPaths.ForClient(null, null, "/ca.crt", None)).Message);
        Assert.Contains("--tls-key ($ORCHESTRATOR_TLS_KEY) is given without",
            Assert.Throws<UserFacingException>(() => TlsPaths.ForClient(null, "/a.key", null, None)).Message);
    }

    [Fact]
    public void The_silo_config_reads_the_tls_section_and_names_missing_fields_with_their_line()
    {
        var config = SiloConfigLoader.Parse("tls:\n  certificate: /etc/tls/tls.crt\n  key: /etc/tls/tls.key\n  ca: /etc/tls/ca.crt\n", "silo.yaml");
        Assert.Equal(new TlsPaths("/etc/tls/tls.crt", "/etc/tls/tls.key", "/etc/tls/ca.crt", TlsFieldNames.Config), config.Tls);
        Assert.Null(SiloConfigLoader.Parse("slots: 2\n", "silo.yaml").Tls);
        Assert.Null(SiloConfigLoader.Parse("tls: {certificate: /c.pem, ca: /ca.pem}\n", "silo.yaml").Tls!.Key);

        var error = Assert.Throws<SiloConfigException>(() => SiloConfigLoader.Parse("slots: 2\ntls:\n  certificate: /c.pem\n  keys: /k.pem\n", "silo.yaml"));
        Assert.Contains(error.Errors, e => e.Path == "tls.ca" && e.Message.Contains("is required with tls", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.Path == "tls.keys" && e.Line == 4);
    }

    [Fact]
    public void A_silo_without_tls_warns_only_when_it_binds_beyond_loopback()
    {
        var loopback = SiloConfig.Default;
        Assert.Null(PlainTextExposure.Warning(loopback));
        var exposed = loopback with { Host = IPAddress.Parse("10.1.2.3") };
        var warning = PlainTextExposure.Warning(exposed);
        Assert.NotNull(warning);
        Assert.Contains("silo.host 10.1.2.3 is not a loopback address and the config has no tls section", warning);
        Assert.Contains($"ports {loopback.SiloPort} (silo) and {loopback.GatewayPort} (gateway)", warning);
        Assert.Null(PlainTextExposure.Warning(exposed with { Tls = new TlsPaths("/c", null, "/ca", TlsFieldNames.Config) }));
        Assert.NotNull(PlainTextExposure.Warning(loopback with { Host = IPAddress.Any }));
    }
}
