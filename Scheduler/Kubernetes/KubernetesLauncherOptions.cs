namespace Orchestrator.Scheduler.Kubernetes;

/// <summary>Which gang scheduler the worker pods are annotated for (<c>launcher.pod_group</c>).</summary>
public enum PodGroupKind
{
    /// <summary>No gang-scheduling hints: the default Kubernetes scheduler places pods one by one.</summary>
    None,

    /// <summary>Volcano: every pod of a job carries <c>scheduling.k8s.io/group-name</c> (the PodGroup object is Volcano's to manage).</summary>
    Volcano,

    /// <summary>Kueue plain-pod groups: <c>kueue.x-k8s.io/pod-group-name</c> and the group's total count.</summary>
    Kueue,
}

/// <summary>A toleration the worker pods carry (<c>launcher.tolerations</c>), as in a pod spec.</summary>
/// <param name="Key">Taint key (empty with operator Exists: every taint).</param>
/// <param name="Operator"><c>Equal</c> or <c>Exists</c>.</param>
/// <param name="Value">Taint value (Equal only).</param>
/// <param name="Effect"><c>NoSchedule</c>, <c>PreferNoSchedule</c>, <c>NoExecute</c>, or null for all.</param>
public sealed record PodToleration(string Key, string Operator = "Equal", string? Value = null, string? Effect = null);

/// <summary>
/// The <c>launcher: { kind: kubernetes, ... }</c> section of a silo config: where and how a job's worker pods are made.
/// Each worker pod runs <c>orchestrator up</c> as a node of the cluster (its node name is the pod's name, its address the
/// pod IP); the launching silo then starts the gang through Hydra on those nodes, as on bare machines.
/// </summary>
public sealed record KubernetesLauncherOptions
{
    /// <summary>The namespace of the worker pods, their Service and owner ConfigMap (<c>launcher.namespace</c>).</summary>
    public required string Namespace { get; init; }

    /// <summary>The worker image (<c>launcher.image</c>): the orchestrator CLI as its entry point, MPICH, the trainer.</summary>
    public required string Image { get; init; }

    /// <summary>Resource requests of one worker pod (<c>launcher.worker_resources</c>, e.g. cpu: "2", memory: 4Gi);
    /// memory is also the pod's limit.</summary>
    public IReadOnlyDictionary<string, string> WorkerResources { get; init; } = new Dictionary<string, string>();

    /// <summary>GPUs (<c>nvidia.com/gpu</c>) per rank, requested when the job's device is not <c>cpu</c> (<c>launcher.gpu_per_worker</c>).</summary>
    public int GpusPerWorker { get; init; }

    /// <summary>Ranks per worker pod (<c>launcher.ranks_per_pod</c>); a gang of N ranks gets ceil(N / this) pods.</summary>
    public int RanksPerPod { get; init; } = 1;

    /// <summary>Node selector of the worker pods (<c>launcher.node_selector</c>).</summary>
    public IReadOnlyDictionary<string, string> NodeSelector { get; init; } = new Dictionary<string, string>();

    /// <summary>Tolerations of the worker pods (<c>launcher.tolerations</c>).</summary>
    public IReadOnlyList<PodToleration> Tolerations { get; init; } = [];

    /// <summary>The pods' <c>schedulerName</c> (<c>launcher.scheduler_name</c>, e.g. volcano); null = the default scheduler.</summary>
    public string? SchedulerName { get; init; }

    /// <summary>Gang-scheduling annotations (<c>launcher.pod_group</c>).</summary>
    public PodGroupKind PodGroup { get; init; } = PodGroupKind.None;

    /// <summary>The Kueue LocalQueue (<c>launcher.queue</c>; label <c>kueue.x-k8s.io/queue-name</c>); null = none.</summary>
    public string? Queue { get; init; }

    /// <summary>How long a worker pod may stay Pending (unscheduled, pulling) before the launch fails naming why (<c>launcher.pending_deadline</c>).</summary>
    public TimeSpan PendingDeadline { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The ReadWriteMany claim mounted at the runs root in every worker pod (<c>launcher.runs_volume_claim</c>).</summary>
    public string RunsVolumeClaim { get; init; } = "orchestrator-runs";

    /// <summary>Where the claim is mounted: the silo's <c>runs_root</c> (the same path on every pod, as Hydra's ranks need).</summary>
    public string RunsMountPath { get; init; } = "/runs";

    /// <summary>The kubeconfig file (<c>launcher.kubeconfig</c>); null = the in-cluster service account, else <c>$KUBECONFIG</c> or <c>~/.kube/config</c>.</summary>
    public string? Kubeconfig { get; init; }

    /// <summary>The Secret with the cluster's mutual-TLS files (<c>launcher.tls_secret</c>; keys <c>tls.crt</c>, <c>tls.key</c>,
    /// <c>ca.crt</c>, as cert-manager writes them), mounted read-only in every worker pod whose silo then uses them; null when the
    /// cluster runs without TLS.</summary>
    public string? TlsSecret { get; init; }

    /// <summary>The silo config the worker pods run (<c>cluster</c> and <c>silo</c> sections of the launching silo); the launcher
    /// adds the node section of each job.</summary>
    public WorkerSiloSettings Worker { get; init; } = new();
}

/// <summary>What a worker pod's own silo needs to join the cluster of the launching silo.</summary>
/// <param name="ClusterId">The cluster id.</param>
/// <param name="Redis">The cluster's Redis (<c>host:port</c>, a Service name on Kubernetes); null = none (a single-silo test).</param>
/// <param name="SiloPort">The worker silo's silo port.</param>
/// <param name="GatewayPort">The worker silo's gateway port.</param>
/// <param name="MetricsPort">Its metrics and health port (the readiness probe).</param>
public sealed record WorkerSiloSettings(string ClusterId = "orchestrator", string? Redis = null, int SiloPort = 11111, int GatewayPort = 30000,
    int MetricsPort = 9390);
