using k8s;
using Orchestrator.Scheduler.Launchers;

namespace Orchestrator.Scheduler.Kubernetes;

/// <summary>
/// The Kubernetes launcher (<c>launcher: { kind: kubernetes }</c> in the silo config): a job's worker pods are the nodes of its
/// gang. For each launch it makes the job's owner ConfigMap, headless Service and worker pods match the gang (a relaunch or a
/// rescale keeps the pods it still needs, adds the missing and deletes the rest), waits until every pod runs and its silo is a
/// live node of the cluster, then starts the gang through Hydra on them exactly as on bare machines (the
/// <paramref name="hydra"/> launcher, with the pods as hosts); meanwhile it watches the pods and ends the gang with the cause
/// when one fails, is evicted, loses its node, cannot pull its image or stays Pending past the deadline. The job's end
/// (<see cref="ReleaseAsync"/>) deletes everything. See <see cref="KubernetesGang"/>.
/// </summary>
/// <param name="options">Namespace, image, resources, scheduling hints.</param>
/// <param name="client">The API client (<see cref="KubernetesConnection.Connect"/>).</param>
/// <param name="hydra">Starts <c>mpiexec</c> over the pods (the <c>local-mpi</c> launcher; requests carry the pods as hosts).</param>
/// <param name="nodes">Tells when a pod's silo registered its node.</param>
/// <param name="localAddress">This silo's address (Hydra's proxies connect back to it).</param>
/// <param name="clock">The clock of pending deadlines (tests: a fake one); null = the system clock.</param>
public sealed class KubernetesLauncher(KubernetesLauncherOptions options, IKubernetes client, IJobLauncher hydra, IWorkerNodeDirectory nodes,
    string localAddress, TimeProvider? clock = null) : IJobLauncher, IReleasesJobResources
{
    private static readonly TimeSpan ReleaseTimeout = TimeSpan.FromSeconds(60);

    /// <summary>The launcher's settings.</summary>
    public KubernetesLauncherOptions Options { get; } = options;

    /// <inheritdoc />
    public ILaunchedJob Launch(LaunchRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Workers < 1)
            throw new ArgumentOutOfRangeException(nameof(request), request.Workers, "at least 1 worker is needed");
        return KubernetesGang.Start(new WorkerPods(client, Options, request.JobId), Options, hydra, nodes, localAddress, clock ?? TimeProvider.System, request);
    }

    /// <summary>Deletes the job's pods, Service and owner ConfigMap.</summary>
    /// <exception cref="KubernetesLauncherException">The API refused (named).</exception>
    public async Task ReleaseAsync(string jobId)
    {
        using var timeout = new CancellationTokenSource(ReleaseTimeout);
        await new WorkerPods(client, Options, jobId).DeleteAllAsync(timeout.Token).ConfigureAwait(false);
    }
}
