using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Orchestrator.Spec;

namespace Orchestrator.Silos.Security;

/// <summary>
/// One party's loaded mutual-TLS material: its certificate with the private key, and the authority it trusts for peers
/// (<see cref="PeerCertificateCheck"/>). Loading checks what can be checked locally and names the field and file of every
/// problem: a missing or unreadable file, no certificate in it, no private key, a key that does not belong to the
/// certificate, a CA file without certificates.
/// </summary>
public sealed class TlsCredentials
{
    private TlsCredentials(X509Certificate2 certificate, PeerCertificateCheck peers, TlsPaths paths)
    {
        Certificate = certificate;
        Peers = peers;
        Paths = paths;
    }

    /// <summary>This party's certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>Checks a peer's certificate against the configured authority.</summary>
    public PeerCertificateCheck Peers { get; }

    /// <summary>Where the material came from.</summary>
    public TlsPaths Paths { get; }

    /// <summary>Loads the files <paramref name="paths"/> names.</summary>
    /// <exception cref="UserFacingException">A file is missing, unreadable or holds the wrong thing.</exception>
    public static TlsCredentials Load(TlsPaths paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var names = paths.Names;
        var certificate = LoadCertificate(paths.Certificate, paths.Key, names);
        var authority = LoadAuthority(paths.Ca, names.Ca);
        return new TlsCredentials(certificate, new PeerCertificateCheck(authority), paths);
    }

    /// <summary>
    /// The local certificate's own validity at <paramref name="now"/> against the configured authority: null when fine, else
    /// why a peer would refuse it (expired, another authority, ...).
    /// </summary>
    public string? OwnCertificateProblem(DateTime now, CertificatePurpose purpose) => Peers.Problem(Certificate, purpose, now);

    private static X509Certificate2 LoadCertificate(string path, string? keyPath, TlsFieldNames names)
    {
        var bytes = Read(path, names.Certificate);
        if (keyPath is not null) Read(keyPath, names.Key); // a missing key file is named as such, not as a PEM error
        try
        {
            if (!LooksLikePem(bytes))
            {
                if (keyPath is not null)
                    throw new UserFacingException($"{names.Key} {keyPath}: a key file goes with a PEM certificate; {names.Certificate} {path} is not PEM (a PFX holds its key itself)");
                var pfx = X509CertificateLoader.LoadPkcs12(bytes, password: null);
                return pfx.HasPrivateKey ? pfx : throw new UserFacingException($"{names.Certificate} {path}: the PFX file holds no private key");
            }
            if (keyPath is null && !System.Text.Encoding.ASCII.GetString(bytes).Contains("PRIVATE KEY-----", StringComparison.Ordinal))
                throw new UserFacingException($"{names.Certificate} {path}: no private key in the file; give {names.Key} with the key's PEM file");
            return X509Certificate2.CreateFromPemFile(path, keyPath);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            var what = keyPath is null ? $"{names.Certificate} {path}" : $"{names.Certificate} {path} with {names.Key} {keyPath}";
            var detail = e.Message.Split(" (Parameter", 2)[0].TrimEnd('.');
            var why = e.Message.Contains("does not match", StringComparison.OrdinalIgnoreCase)
                ? "the private key does not belong to the certificate"
                : e is ArgumentException
                    ? $"no certificate and key found ({detail}); expected PEM CERTIFICATE and PRIVATE KEY blocks"
                    : $"not a usable certificate and key ({detail}; expected PEM, or PFX without a password)";
            throw new UserFacingException($"{what}: {why}", e);
        }
    }

    private static X509Certificate2Collection LoadAuthority(string path, string name)
    {
        Read(path, name);
        var authority = new X509Certificate2Collection();
        try
        {
            authority.ImportFromPemFile(path);
        }
        catch (CryptographicException e)
        {
            throw new UserFacingException($"{name} {path}: not a PEM certificate file ({e.Message.TrimEnd('.')})", e);
        }
        return authority.Count > 0 ? authority : throw new UserFacingException($"{name} {path}: no certificate in the file (expected PEM CERTIFICATE blocks)");
    }

    private static byte[] Read(string path, string name)
    {
        try
        {
            if (Directory.Exists(path)) throw new UserFacingException($"{name} {path}: is a directory, not a file");
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new UserFacingException($"{name} {path}: file not found", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserFacingException($"{name} {path}: cannot be read ({e.Message.TrimEnd('.')})", e);
        }
    }

    private static bool LooksLikePem(byte[] bytes) =>
        System.Text.Encoding.ASCII.GetString(bytes, 0, Math.Min(bytes.Length, 4096)).Contains("-----BEGIN", StringComparison.Ordinal);
}
