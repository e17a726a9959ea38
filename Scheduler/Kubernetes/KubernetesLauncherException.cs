using Orchestrator.Spec;

namespace Orchestrator.Scheduler.Kubernetes;

/// <summary>
/// The Kubernetes launcher cannot go on, with the cause in words (no credentials, RBAC forbids a verb, a namespace that does
/// not exist, an unreachable API server, a pod that failed). <see cref="Retryable"/>: a later launch may succeed (a pod
/// evicted, a node lost); false for configuration mistakes a retry repeats.
/// </summary>
public sealed class KubernetesLauncherException : UserFacingException
{
    /// <summary>Creates the exception with the message shown to the user.</summary>
    public KubernetesLauncherException(string message, bool retryable) : base(message) => Retryable = retryable;

    /// <summary>Creates the exception with the message shown to the user and the underlying cause.</summary>
    public KubernetesLauncherException(string message, bool retryable, Exception inner) : base(message, inner) => Retryable = retryable;

    /// <summary>Whether a later launch may succeed.</summary>
    public bool Retryable { get; }
}
