namespace Orchestrator.Silos.Health;

/// <summary>
/// The paths of the silo's health endpoint, served on its metrics listener (<c>metrics_port</c>, next to <c>/metrics</c>).
/// The Kubernetes probes in <c>k8s/base</c> use these paths; a test checks that they do.
/// </summary>
public static class HealthPaths
{
    /// <summary>Liveness: 200 while the process answers HTTP at all.</summary>
    public const string Liveness = "/healthz";

    /// <summary>Readiness: 200 once the silo is an active member of its cluster and, with Redis, Redis answers; 503 otherwise.</summary>
    public const string Readiness = "/readyz";
}
