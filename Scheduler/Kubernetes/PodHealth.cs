using System.Globalization;
using k8s.Models;

namespace Orchestrator.Scheduler.Kubernetes;

/// <summary>What a worker pod's state means for its job (see <see cref="PodHealth.Judge"/>).</summary>
public abstract record PodVerdict
{
    private PodVerdict() { }

    /// <summary>Not ready yet, within its deadline: what it waits for, in words.</summary>
    public sealed record Starting(string What) : PodVerdict;

    /// <summary>Running with its silo ready, at <paramref name="Address"/> (the pod IP).</summary>
    public sealed record Ready(string Address) : PodVerdict;

    /// <summary>It cannot (or can no longer) run the job's ranks. <paramref name="Retryable"/>: a new pod may work (eviction, node
    /// loss, no room yet); false for a mistake in the config that a retry repeats (an image that cannot be pulled).</summary>
    public sealed record Failed(string Reason, bool Retryable) : PodVerdict;
}

/// <summary>
/// Turns a worker pod's phase, conditions and container states into a <see cref="PodVerdict"/>: pure (the clock is a
/// parameter), so every case is tested directly. Failures name the pod and the cause as Kubernetes reports it (eviction
/// message, exit code and reason such as OOMKilled, image pull error, the scheduler's unschedulable message).
/// </summary>
public static class PodHealth
{
    /// <summary>Container waiting reasons that a retry would only repeat (image, container config).</summary>
    public static readonly IReadOnlySet<string> PermanentWaitingReasons = new HashSet<string>(StringComparer.Ordinal)
    {
        "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError", "CreateContainerError",
    };

    /// <summary>The verdict on <paramref name="pod"/> at <paramref name="now"/>; a pod not ready <paramref name="pendingDeadline"/>
    /// after its creation has failed (retryable), with what it waited for.</summary>
    public static PodVerdict Judge(V1Pod pod, DateTimeOffset now, TimeSpan pendingDeadline)
    {
        ArgumentNullException.ThrowIfNull(pod);
        var name = pod.Metadata?.Name ?? "?";
        var status = pod.Status;
        if (pod.Metadata?.DeletionTimestamp is not null)
            return new PodVerdict.Failed($"worker pod {name} is being deleted (node drained, pod preempted or deleted by someone)", true);
        switch (status?.Phase)
        {
            case "Failed" when status.Reason == "Evicted":
                return new PodVerdict.Failed($"worker pod {name} was evicted: {status.Message ?? "no message"}", true);
            case "Failed":
                return new PodVerdict.Failed($"worker pod {name} failed: {Terminated(status) ?? status.Message ?? status.Reason ?? "no reason given"}", true);
            case "Succeeded":
                return new PodVerdict.Failed($"worker pod {name} ended: {Terminated(status) ?? "its silo exited"}", true);
            case "Unknown":
                return new PodVerdict.Failed($"worker pod {name}: its node lost contact with the cluster (phase Unknown{Detail(status.Message)})", true);
        }
        foreach (var container in status?.ContainerStatuses ?? [])
        {
            if (container.State?.Waiting is { Reason: { } reason } waiting && PermanentWaitingReasons.Contains(reason))
            {
                var what = reason.Contains("Image", StringComparison.Ordinal) ? $"cannot pull image {container.Image ?? "?"}" : "cannot create its container";
                return new PodVerdict.Failed($"worker pod {name} {what}: {reason}{Detail(waiting.Message)}", false);
            }
            if (container.State?.Terminated is { } terminated)
                return new PodVerdict.Failed($"worker pod {name} failed: {Describe(container.Name, terminated)}", true);
        }
        if (status?.Phase == "Running" && IsTrue(status, "Ready") && !string.IsNullOrEmpty(status.PodIP))
            return new PodVerdict.Ready(status.PodIP);

        var waitingFor = WaitingFor(status);
        var created = pod.Metadata?.CreationTimestamp is { } c ? new DateTimeOffset(DateTime.SpecifyKind(c, DateTimeKind.Utc)) : now;
        if (now - created > pendingDeadline)
            return new PodVerdict.Failed(
                $"worker pod {name} is not ready after {Seconds(pendingDeadline)} (launcher.pending_deadline): {waitingFor}", true);
        return new PodVerdict.Starting(waitingFor);
    }

    /// <summary>What a pod that is not ready waits for: the scheduler's reason, the container's, or the silo's readiness.</summary>
    private static string WaitingFor(V1PodStatus? status)
    {
        var scheduled = status?.Conditions?.FirstOrDefault(c => c.Type == "PodScheduled");
        if (scheduled is { Status: "False" })
            return $"not scheduled ({scheduled.Reason ?? "pending"}{Detail(scheduled.Message)})";
        if (status?.Phase is null or "Pending" && status?.ContainerStatuses?.FirstOrDefault()?.State?.Waiting is { } waiting)
            return $"container waiting ({waiting.Reason ?? "starting"}{Detail(waiting.Message)})";
        if (status?.Phase is null or "Pending") return "pending";
        return "running, its silo not ready yet (readiness /readyz)";
    }

    private static string? Terminated(V1PodStatus status) =>
        status.ContainerStatuses?.FirstOrDefault(c => c.State?.Terminated is not null) is { } c ? Describe(c.Name, c.State.Terminated) : null;

    private static string Describe(string container, V1ContainerStateTerminated terminated) =>
        string.Create(CultureInfo.InvariantCulture,
            $"container {container} exited with code {terminated.ExitCode}{(terminated.Reason is { } r ? $" ({r})" : "")}{Detail(terminated.Message)}");

    private static bool IsTrue(V1PodStatus status, string type) => status.Conditions?.Any(c => c.Type == type && c.Status == "True") == true;

    private static string Detail(string? message) => string.IsNullOrWhiteSpace(message) ? "" : $": {message.Trim()}";

    private static string Seconds(TimeSpan span) => string.Create(CultureInfo.InvariantCulture, $"{span.TotalSeconds:0} s");
}
