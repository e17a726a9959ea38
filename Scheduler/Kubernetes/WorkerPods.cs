using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace Orchestrator.Scheduler.Kubernetes;

/// <summary>
/// The Kubernetes objects of one job's workers, through the API (the I/O half of the launcher; <see cref="WorkerManifests"/>
/// builds what it sends): the owner ConfigMap, the headless Service, the pods of a <see cref="WorkerPodPlan"/> (kept, added
/// or deleted to match it), a list-then-watch loop over the job's pods (<see cref="PodWatchState"/>), and deleting it all.
/// Every API failure becomes a <see cref="KubernetesLauncherException"/> naming the cause.
/// </summary>
/// <param name="client">The API client.</param>
/// <param name="options">Namespace, image and the rest of the pods' settings.</param>
/// <param name="jobId">The job.</param>
public sealed class WorkerPods(IKubernetes client, KubernetesLauncherOptions options, string jobId)
{
    private static readonly TimeSpan NameReuseWait = TimeSpan.FromSeconds(60);

    private string Ns => options.Namespace;

    /// <summary>The job.</summary>
    public string JobId { get; } = jobId;

    /// <summary>Creates the owner ConfigMap (or reads it back when it exists) and returns its uid.</summary>
    public async Task<string> EnsureOwnerAsync(int gpusPerRank, CancellationToken cancel)
    {
        var owner = WorkerManifests.Owner(JobId, options, gpusPerRank);
        try
        {
            var created = await Call("create ConfigMaps", () => client.CoreV1.CreateNamespacedConfigMapAsync(owner, Ns, cancellationToken: cancel));
            return created.Metadata.Uid;
        }
        catch (KubernetesLauncherException e) when (e.InnerException is { } inner && KubernetesConnection.Is(inner, HttpStatusCode.Conflict))
        {
            var existing = await Call("get ConfigMaps", () => client.CoreV1.ReadNamespacedConfigMapAsync(owner.Metadata.Name, Ns, cancellationToken: cancel));
            return existing.Metadata.Uid;
        }
    }

    /// <summary>Creates the job's headless Service (an existing one is kept).</summary>
    public async Task EnsureServiceAsync(string ownerUid, CancellationToken cancel)
    {
        try
        {
            await Call("create Services", () => client.CoreV1.CreateNamespacedServiceAsync(WorkerManifests.Service(JobId, options, ownerUid), Ns, cancellationToken: cancel));
        }
        catch (KubernetesLauncherException e) when (e.InnerException is { } inner && KubernetesConnection.Is(inner, HttpStatusCode.Conflict))
        {
        }
    }

    /// <summary>The job's pods as the API lists them now, with the list's resourceVersion.</summary>
    public async Task<(IReadOnlyList<V1Pod> Pods, string? ResourceVersion)> ListAsync(CancellationToken cancel)
    {
        var list = await Call("list pods", () => client.CoreV1.ListNamespacedPodAsync(Ns, labelSelector: WorkerManifests.Selector(JobId), cancellationToken: cancel));
        return (list.Items?.ToList() ?? [], list.Metadata?.ResourceVersion);
    }

    /// <summary>
    /// Makes the job's pods match <paramref name="plan"/>: pods the plan no longer has (a smaller gang) and pods that failed
    /// (judged at <paramref name="now"/>) are deleted; missing ones are created. Returns (created, deleted) pod names.
    /// </summary>
    public async Task<(IReadOnlyList<string> Created, IReadOnlyList<string> Deleted)> ReconcileAsync(IReadOnlyList<WorkerPod> plan, string ownerUid,
        int gpusPerRank, DateTimeOffset now, CancellationToken cancel)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var (existing, _) = await ListAsync(cancel);
        var wanted = plan.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        var deleted = new List<string>();
        foreach (var pod in existing)
        {
            var name = pod.Metadata.Name;
            if (!wanted.Contains(name) || PodHealth.Judge(pod, now, options.PendingDeadline) is PodVerdict.Failed)
            {
                await DeletePodAsync(name, cancel);
                deleted.Add(name);
            }
        }
        var kept = existing.Select(p => p.Metadata.Name).Except(deleted).ToHashSet(StringComparer.Ordinal);
        var created = new List<string>();
        foreach (var pod in plan.Where(p => !kept.Contains(p.Name)))
        {
            await CreatePodAsync(WorkerManifests.Pod(JobId, pod, plan.Count, options, ownerUid, gpusPerRank), cancel);
            created.Add(pod.Name);
        }
        return (created, deleted);
    }

    /// <summary>Creates a pod; while a deleted pod of the same name is still terminating (409), waits for the name to be free.</summary>
    private async Task CreatePodAsync(V1Pod pod, CancellationToken cancel)
    {
        var until = DateTimeOffset.UtcNow + NameReuseWait;
        while (true)
        {
            try
            {
                await Call("create pods", () => client.CoreV1.CreateNamespacedPodAsync(pod, Ns, cancellationToken: cancel));
                return;
            }
            catch (KubernetesLauncherException e) when (e.InnerException is { } inner && KubernetesConnection.Is(inner, HttpStatusCode.Conflict)
                && DateTimeOffset.UtcNow < until)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), cancel);
            }
        }
    }

    /// <summary>Deletes one pod (gone already: fine).</summary>
    public async Task DeletePodAsync(string name, CancellationToken cancel)
    {
        try
        {
            await Call("delete pods", () => client.CoreV1.DeleteNamespacedPodAsync(name, Ns, gracePeriodSeconds: 5, cancellationToken: cancel));
        }
        catch (KubernetesLauncherException e) when (e.InnerException is { } inner && KubernetesConnection.Is(inner, HttpStatusCode.NotFound))
        {
        }
    }

    /// <summary>
    /// Deletes everything of the job: its pods, its Service, then the owner (background propagation, which also collects
    /// whatever the explicit deletes missed). Objects already gone are fine.
    /// </summary>
    public async Task DeleteAllAsync(CancellationToken cancel)
    {
        var (pods, _) = await ListAsync(cancel);
        foreach (var pod in pods) await DeletePodAsync(pod.Metadata.Name, cancel);
        var group = WorkerPodPlan.GroupName(JobId);
        await IgnoreNotFound(() => Call("delete Services", () => client.CoreV1.DeleteNamespacedServiceAsync(group, Ns, cancellationToken: cancel)));
        await IgnoreNotFound(() => Call("delete ConfigMaps", () => client.CoreV1.DeleteNamespacedConfigMapAsync(group, Ns,
            new V1DeleteOptions { PropagationPolicy = "Background" }, cancellationToken: cancel)));
    }

    /// <summary>
    /// Lists and then watches the job's pods until <paramref name="cancel"/>: <paramref name="onList"/> gets every full list
    /// (the first, and after each 410 Gone), <paramref name="onEvent"/> every change. Re-watches from the last resourceVersion when
    /// a stream ends; errors other than 410 retry with backoff (<paramref name="onError"/> hears of them). Returns the bookkeeping
    /// when cancelled.
    /// </summary>
    public async Task<PodWatchState> WatchAsync(Action<IReadOnlyList<V1Pod>> onList, Action<WatchEventType, V1Pod> onEvent, Action<Exception>? onError,
        CancellationToken cancel)
    {
        ArgumentNullException.ThrowIfNull(onList);
        ArgumentNullException.ThrowIfNull(onEvent);
        var state = new PodWatchState();
        while (!cancel.IsCancellationRequested)
        {
            var step = state.Next();
            try
            {
                if (step.Delay > TimeSpan.Zero) await Task.Delay(step.Delay, cancel);
                if (step.Relist)
                {
                    var (pods, version) = await ListAsync(cancel);
                    state.Listed(version);
                    onList(pods);
                    continue;
                }
                var gone = false;
                var events = client.CoreV1.WatchListNamespacedPodAsync(Ns, allowWatchBookmarks: true, labelSelector: WorkerManifests.Selector(JobId),
                    resourceVersion: step.From, timeoutSeconds: 300, onError: e =>
                    {
                        if (e is KubernetesException { Status.Code: 410 }) gone = true;
                        else onError?.Invoke(e);
                    }, cancellationToken: cancel);
                await foreach (var (type, pod) in events)
                {
                    state.Observed(pod?.Metadata?.ResourceVersion);
                    if (type != WatchEventType.Bookmark && pod is not null) onEvent(type, pod);
                }
                if (gone) state.Gone();
                else state.Closed();
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                break;
            }
            catch (HttpOperationException e) when (e.Response?.StatusCode == HttpStatusCode.Gone)
            {
                state.Gone();
            }
            catch (Exception e) when (e is HttpOperationException or HttpRequestException or KubernetesLauncherException or IOException
                or System.Text.Json.JsonException or KubernetesException or OperationCanceledException) // the last: an HTTP timeout
            {
                onError?.Invoke(e);
                state.Failed();
            }
        }
        return state;
    }

    private static async Task IgnoreNotFound(Func<Task> call)
    {
        try { await call(); }
        catch (KubernetesLauncherException e) when (e.InnerException is { } inner && KubernetesConnection.Is(inner, HttpStatusCode.NotFound)
            && !e.Message.Contains("does not exist", StringComparison.Ordinal)) { }
    }

    private async Task<T> Call<T>(string action, Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (Exception e) when (KubernetesConnection.Explain(e, action, Ns) is { } explained)
        {
            throw explained;
        }
    }
}
