namespace Orchestrator.Silos.Security;

/// <summary>
/// Where one party's mutual-TLS material lies: its certificate (PEM, or PFX/PKCS#12 with the key inside), its private key
/// (PEM; null when the certificate file holds it) and the certificate authority every peer must be issued by (PEM, one or
/// more certificates). A silo takes them from its config (<c>tls: { certificate, key, ca }</c>), a client from
/// <c>--tls-cert</c>, <c>--tls-key</c>, <c>--tls-ca</c> or the <c>ORCHESTRATOR_TLS_*</c> variables, which is also how the
/// workers under <c>mpirun</c> get them (the silo sets them for every gang it launches).
/// </summary>
/// <param name="Certificate">This party's certificate file.</param>
/// <param name="Key">Its private key file; null = inside <paramref name="Certificate"/>.</param>
/// <param name="Ca">The authority's certificate file: peers must present a certificate it issued.</param>
/// <param name="Names">How the user named each path (config fields or options), for messages.</param>
public sealed record TlsPaths(string Certificate, string? Key, string Ca, TlsFieldNames Names)
{
    /// <summary>Environment variable with a client's certificate path (the default of <c>--tls-cert</c>).</summary>
    public const string CertificateVariable = "ORCHESTRATOR_TLS_CERT";

    /// <summary>Environment variable with a client's private key path (the default of <c>--tls-key</c>).</summary>
    public const string KeyVariable = "ORCHESTRATOR_TLS_KEY";

    /// <summary>Environment variable with the authority's certificate path (the default of <c>--tls-ca</c>).</summary>
    public const string CaVariable = "ORCHESTRATOR_TLS_CA";

    /// <summary>
    /// The paths a client was given: each option, else its variable. Null when neither a certificate nor a CA is given
    /// (a plain connection).
    /// </summary>
    /// <exception cref="Orchestrator.Spec.UserFacingException">Only some of them are given.</exception>
    public static TlsPaths? ForClient(string? certificate, string? key, string? ca, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        certificate = NonEmpty(certificate) ?? NonEmpty(environment(CertificateVariable));
        key = NonEmpty(key) ?? NonEmpty(environment(KeyVariable));
        ca = NonEmpty(ca) ?? NonEmpty(environment(CaVariable));
        var names = TlsFieldNames.Client;
        if (certificate is null && ca is null)
        {
            if (key is not null)
                throw new Orchestrator.Spec.UserFacingException($"{names.Key} is given without {names.Certificate} and {names.Ca}");
            return null;
        }
        if (certificate is null)
            throw new Orchestrator.Spec.UserFacingException(
                $"{names.Ca} is given without {names.Certificate}: mutual TLS needs this client's own certificate (and {names.Key} unless the certificate file holds the key)");
        if (ca is null)
            throw new Orchestrator.Spec.UserFacingException(
                $"{names.Certificate} is given without {names.Ca}: the gateway's certificate is checked against that authority only (not the system store)");
        return new TlsPaths(Path.GetFullPath(certificate), key is null ? null : Path.GetFullPath(key), Path.GetFullPath(ca), names);
    }

    /// <summary>The variables that hand these paths to a client process (the workers a silo launches).</summary>
    public IReadOnlyDictionary<string, string> ToEnvironment()
    {
        var variables = new Dictionary<string, string>
        {
            [CertificateVariable] = Path.GetFullPath(Certificate),
            [CaVariable] = Path.GetFullPath(Ca),
        };
        if (Key is not null) variables[KeyVariable] = Path.GetFullPath(Key);
        return variables;
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}

/// <summary>The names under which the user gave <see cref="TlsPaths"/>: config fields or command-line options.</summary>
/// <param name="Certificate">The certificate's name.</param>
/// <param name="Key">The key's name.</param>
/// <param name="Ca">The authority's name.</param>
public sealed record TlsFieldNames(string Certificate, string Key, string Ca)
{
    /// <summary>The silo config's fields.</summary>
    public static TlsFieldNames Config { get; } = new("tls.certificate", "tls.key", "tls.ca");

    /// <summary>A client's options and their variables.</summary>
    public static TlsFieldNames Client { get; } = new(
        $"--tls-cert (${TlsPaths.CertificateVariable})", $"--tls-key (${TlsPaths.KeyVariable})", $"--tls-ca (${TlsPaths.CaVariable})");
}
