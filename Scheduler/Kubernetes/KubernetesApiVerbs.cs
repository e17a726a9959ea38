namespace Orchestrator.Scheduler.Kubernetes;

/// <summary>
/// Every Kubernetes API call the launcher makes, as RBAC names them (resource -> verbs, core API group, the launcher's
/// namespace). k8s/base/rbac.yaml grants exactly these; tests/Orchestrator.Tests/Deployment/ManifestTests holds the Role to
/// this list, so a new call needs both a line here and a verb there.
/// </summary>
public static class KubernetesApiVerbs
{
    /// <summary>Resource -> verbs, each sorted.</summary>
    public static IReadOnlyDictionary<string, string[]> Used { get; } = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        // The owner of a job's objects: created first (its uid goes into their owner references), read back when it exists
        // already (a relaunch), deleted last (garbage-collects anything the explicit deletes missed).
        ["configmaps"] = ["create", "delete", "get"],
        // Worker pods: created per placement, listed and watched (readiness, failures, evictions, node loss), deleted on
        // rescale, replacement, success, failure and cancel.
        ["pods"] = ["create", "delete", "list", "watch"],
        // The headless Service of a job's pods (their DNS subdomain).
        ["services"] = ["create", "delete"],
    };
}
