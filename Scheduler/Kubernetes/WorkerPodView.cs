using k8s;
using k8s.Models;

namespace Orchestrator.Scheduler.Kubernetes;

/// <summary>
/// The newest state of a job's pods as the watch reports them (thread-safe: the watch loop writes, the gang reads), with a
/// signal for "something changed" and the pods that were deleted while the gang needed them.
/// </summary>
internal sealed class WorkerPodView
{
    private readonly Lock gate = new();
    private readonly Dictionary<string, V1Pod> pods = new(StringComparer.Ordinal);
    private readonly HashSet<string> deleted = new(StringComparer.Ordinal);
    private TaskCompletionSource changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool listed;

    /// <summary>A full list: replaces everything known.</summary>
    public void Replace(IReadOnlyList<V1Pod> list)
    {
        lock (gate)
        {
            var names = list.Select(p => p.Metadata.Name).ToHashSet(StringComparer.Ordinal);
            if (listed) deleted.UnionWith(pods.Keys.Where(n => !names.Contains(n))); // gone while the watch was away
            pods.Clear();
            foreach (var pod in list) pods[pod.Metadata.Name] = pod;
            deleted.ExceptWith(names);
            listed = true;
        }
        Signal();
    }

    /// <summary>One watch event.</summary>
    public void Apply(WatchEventType type, V1Pod pod)
    {
        var name = pod.Metadata?.Name;
        if (name is null) return;
        lock (gate)
        {
            if (type == WatchEventType.Deleted)
            {
                pods.Remove(name);
                deleted.Add(name);
            }
            else
            {
                pods[name] = pod;
                deleted.Remove(name);
            }
        }
        Signal();
    }

    /// <summary>Whether the first list arrived.</summary>
    public bool Listed { get { lock (gate) return listed; } }

    /// <summary>The verdict on each pod of <paramref name="plan"/>: a pod that was deleted or is missing after the first list has failed.</summary>
    public IReadOnlyList<(WorkerPod Pod, PodVerdict Verdict)> Judge(IReadOnlyList<WorkerPod> plan, DateTimeOffset now, TimeSpan pendingDeadline)
    {
        lock (gate)
        {
            return [.. plan.Select(p => (p, pods.TryGetValue(p.Name, out var pod)
                ? PodHealth.Judge(pod, now, pendingDeadline)
                : listed
                    ? new PodVerdict.Failed($"worker pod {p.Name} was deleted ({(deleted.Contains(p.Name) ? "node lost, pod preempted, or deleted by someone" : "missing from the job's pods")})", true)
                    : (PodVerdict)new PodVerdict.Starting("not listed yet")))];
        }
    }

    /// <summary>Completes at the next change or after <paramref name="timeout"/>.</summary>
    public Task ChangedOrAfter(TimeSpan timeout, CancellationToken cancel)
    {
        Task next;
        lock (gate) next = changed.Task;
        return Task.WhenAny(next, Task.Delay(timeout, cancel));
    }

    private void Signal()
    {
        TaskCompletionSource done;
        lock (gate)
        {
            done = changed;
            changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        done.TrySetResult();
    }
}
