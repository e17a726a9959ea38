using System.Net;
using System.Net.Http;
using k8s;
using k8s.Autorest;
using k8s.Exceptions;
using k8s.Models;

namespace Orchestrator.Scheduler.Kubernetes;

/// <summary>
/// Where the launcher's Kubernetes client comes from, and what its failures mean in words. Credentials, in order: the
/// configured kubeconfig (<c>launcher.kubeconfig</c>; a missing file is an error, not a fallback), the pod's service account
/// (in a cluster), <c>$KUBECONFIG</c>, <c>~/.kube/config</c>; none of them is a clear error naming all four.
/// </summary>
public static class KubernetesConnection
{
    /// <summary>A client for <paramref name="options"/>.</summary>
    /// <exception cref="KubernetesLauncherException">No usable credentials (named).</exception>
    public static IKubernetes Connect(KubernetesLauncherOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new k8s.Kubernetes(Configuration(options.Kubeconfig, Environment.GetEnvironmentVariable("KUBECONFIG"),
            Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".kube", "config")));
    }

    /// <summary>The client configuration from <paramref name="configured"/>, else in-cluster, else <paramref name="environment"/>,
    /// else <paramref name="home"/>.</summary>
    /// <exception cref="KubernetesLauncherException">None is usable.</exception>
    public static KubernetesClientConfiguration Configuration(string? configured, string? environment, string home)
    {
        if (configured is not null)
        {
            if (!File.Exists(configured))
                throw new KubernetesLauncherException($"launcher.kubeconfig {configured} does not exist (leave it out to use the pod's service account)", false);
            return FromFile(configured, "launcher.kubeconfig");
        }
        if (KubernetesClientConfiguration.IsInCluster())
        {
            try { return KubernetesClientConfiguration.InClusterConfig(); }
            catch (Exception e) when (e is KubeConfigException or IOException or UnauthorizedAccessException)
            {
                throw new KubernetesLauncherException($"the pod's service account credentials cannot be read: {e.Message}", false, e);
            }
        }
        if (!string.IsNullOrEmpty(environment))
        {
            var first = environment.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? environment;
            if (!File.Exists(first)) throw new KubernetesLauncherException($"$KUBECONFIG names {first}, which does not exist", false);
            return FromFile(first, "$KUBECONFIG");
        }
        if (File.Exists(home)) return FromFile(home, home);
        throw new KubernetesLauncherException(
            "no Kubernetes credentials: not in a pod with a service account (KUBERNETES_SERVICE_HOST is not set), launcher.kubeconfig not " +
            $"configured, $KUBECONFIG not set and {home} missing", false);
    }

    private static KubernetesClientConfiguration FromFile(string path, string what)
    {
        try
        {
            return KubernetesClientConfiguration.BuildConfigFromConfigFile(path);
        }
        catch (Exception e) when (e is KubeConfigException or IOException or UnauthorizedAccessException or FormatException or ArgumentException
            or YamlDotNet.Core.YamlException)
        {
            throw new KubernetesLauncherException($"kubeconfig {path} ({what}) is not usable: {e.Message}", false, e);
        }
    }

    /// <summary>
    /// <paramref name="e"/> (from <paramref name="action"/> in <paramref name="ns"/>) as a <see cref="KubernetesLauncherException"/>
    /// naming the cause, or null when it is not an API failure. 403: RBAC, naming the verb and the Role to extend; 404 of the
    /// namespace: it does not exist; 401: credentials rejected; no connection: the server's address.
    /// </summary>
    public static KubernetesLauncherException? Explain(Exception e, string action, string ns)
    {
        switch (e)
        {
            case HttpOperationException http:
                var status = http.Response?.StatusCode;
                var message = ServerMessage(http);
                return status switch
                {
                    HttpStatusCode.Forbidden => new KubernetesLauncherException(
                        $"Kubernetes forbids the launcher to {action} in namespace {ns} (403 Forbidden: {message}); the silo's service account needs " +
                        "the Role of k8s/base/rbac.yaml (orchestrator-launcher) bound in that namespace", false, e),
                    HttpStatusCode.Unauthorized => new KubernetesLauncherException(
                        $"Kubernetes rejected the launcher's credentials when it tried to {action} (401 Unauthorized: {message})", false, e),
                    HttpStatusCode.NotFound when message.Contains("namespaces", StringComparison.Ordinal) =>
                        new KubernetesLauncherException($"namespace {ns} does not exist (launcher.namespace): cannot {action} ({message})", false, e),
                    _ => new KubernetesLauncherException(
                        $"Kubernetes refused to {action} in namespace {ns}: {(int?)status} {http.Response?.ReasonPhrase}: {message}",
                        status is null || (int)status >= 500 || status == (HttpStatusCode)429, e),
                };
            case HttpRequestException request:
                return new KubernetesLauncherException($"cannot reach the Kubernetes API server to {action}: {request.Message}", true, e);
            case KubernetesException k:
                return new KubernetesLauncherException($"Kubernetes failed to {action} in namespace {ns}: {k.Status?.Message ?? k.Message}", true, e);
            default:
                return null;
        }
    }

    /// <summary>Whether <paramref name="e"/> is the API's answer <paramref name="code"/>.</summary>
    public static bool Is(Exception e, HttpStatusCode code) => e is HttpOperationException { Response: { } r } && r.StatusCode == code;

    private static string ServerMessage(HttpOperationException http)
    {
        var body = http.Response?.Content;
        if (string.IsNullOrWhiteSpace(body)) return http.Message;
        try
        {
            return KubernetesJson.Deserialize<V1Status>(body)?.Message ?? body;
        }
        catch (System.Text.Json.JsonException)
        {
            return body.Length <= 200 ? body : body[..200];
        }
    }
}
