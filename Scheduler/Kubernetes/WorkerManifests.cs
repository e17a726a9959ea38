using System.Globalization;
using System.Text;
using k8s.Models;

namespace Orchestrator.Scheduler.Kubernetes;

/// <summary>
/// The Kubernetes objects of one job's workers, built from (job, pods, options) alone (pure, tested directly):
/// <list type="bullet">
/// <item>the owner ConfigMap <c>JOB-workers</c>, holding the silo config the worker pods run (<c>worker.yaml</c>); every other
/// object names it as its controlling owner, so deleting it garbage-collects the job's Service and pods;</item>
/// <item>the headless Service <c>JOB-workers</c> (the pods' DNS subdomain; not-ready addresses published, so peers resolve
/// while a silo starts);</item>
/// <item>one pod per <see cref="WorkerPod"/>: <c>orchestrator up</c> as a node of the cluster (node name = pod name = host name,
/// address = pod IP), the runs claim at the runs root, <c>nvidia.com/gpu</c> when the job asks for GPUs, node selector,
/// tolerations, scheduler name and gang annotations from the options, <c>restartPolicy: Never</c> (a failed pod is replaced
/// by the launcher, which knows why).</item>
/// </list>
/// </summary>
public static class WorkerManifests
{
    /// <summary>Label with the job's name on every object of the job (the launcher's list and watch selector).</summary>
    public const string JobLabel = "orchestrator/job";

    /// <summary>The node label a worker pod's silo registers with: the job it was made for (its agent runs no other job's proxies).</summary>
    public const string NodeJobLabel = "orchestrator/job";

    /// <summary>The GPU resource of NVIDIA's device plugin.</summary>
    public const string GpuResource = "nvidia.com/gpu";

    /// <summary>Where the worker pod mounts its silo config.</summary>
    public const string ConfigMountPath = "/etc/orchestrator-worker";

    /// <summary>Where the worker pod mounts <see cref="KubernetesLauncherOptions.TlsSecret"/> (the tls overlay's path for silo pods too).</summary>
    public const string TlsMountPath = "/etc/orchestrator-tls";

    /// <summary>The certificate, key and CA files of the TLS Secret (cert-manager's keys).</summary>
    public static readonly (string Certificate, string Key, string Ca) TlsFiles = ("tls.crt", "tls.key", "ca.crt");

    /// <summary>The key (file) of the worker silo config in the owner ConfigMap.</summary>
    public const string ConfigKey = "worker.yaml";

    /// <summary>Volcano's pod-group annotation.</summary>
    public const string VolcanoGroupAnnotation = "scheduling.k8s.io/group-name";

    /// <summary>Kueue's pod-group label.</summary>
    public const string KueueGroupLabel = "kueue.x-k8s.io/pod-group-name";

    /// <summary>Kueue's pod-group size annotation.</summary>
    public const string KueueCountAnnotation = "kueue.x-k8s.io/pod-group-total-count";

    /// <summary>Kueue's queue label.</summary>
    public const string KueueQueueLabel = "kueue.x-k8s.io/queue-name";

    /// <summary>The label selector of the job's objects.</summary>
    public static string Selector(string jobId) => $"{JobLabel}={jobId}";

    /// <summary>The labels every object of the job carries.</summary>
    public static Dictionary<string, string> Labels(string jobId) => new(StringComparer.Ordinal)
    {
        ["app.kubernetes.io/name"] = "orchestrator",
        ["app.kubernetes.io/component"] = "worker",
        [JobLabel] = jobId,
    };

    /// <summary>The owner ConfigMap with the worker silo config (ranks per pod as slots, <paramref name="gpusPerRank"/> GPUs per slot).</summary>
    public static V1ConfigMap Owner(string jobId, KubernetesLauncherOptions options, int gpusPerRank)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new V1ConfigMap
        {
            ApiVersion = "v1",
            Kind = "ConfigMap",
            Metadata = new V1ObjectMeta { Name = WorkerPodPlan.GroupName(jobId), NamespaceProperty = options.Namespace, Labels = Labels(jobId) },
            Data = new Dictionary<string, string> { [ConfigKey] = WorkerConfig(jobId, options, gpusPerRank) },
        };
    }

    /// <summary>The silo config a worker pod of <paramref name="jobId"/> runs (its node name and address come from the pod: host name, <c>--host $(POD_IP)</c>).</summary>
    public static string WorkerConfig(string jobId, KubernetesLauncherOptions options, int gpusPerRank)
    {
        ArgumentNullException.ThrowIfNull(options);
        var w = options.Worker;
        var text = new StringBuilder();
        text.Append("# Written by the Kubernetes launcher for job ").Append(jobId).Append(": the silo of one of its worker pods.\n");
        text.Append("cluster:\n  id: ").Append(Quoted(w.ClusterId)).Append('\n');
        if (w.Redis is not null) text.Append("  redis: ").Append(Quoted(w.Redis)).Append('\n');
        text.Append(CultureInfo.InvariantCulture, $"silo:\n  port: {w.SiloPort}\n  gateway_port: {w.GatewayPort}\n");
        text.Append("runs_root: ").Append(Quoted(options.RunsMountPath)).Append('\n');
        text.Append(CultureInfo.InvariantCulture, $"metrics_port: {w.MetricsPort}\n");
        text.Append(CultureInfo.InvariantCulture, $"node:\n  slots: {options.RanksPerPod}\n  gpus: {gpusPerRank * options.RanksPerPod}\n");
        text.Append("  labels:\n    ").Append(Quoted(NodeJobLabel)).Append(": ").Append(Quoted(jobId)).Append('\n');
        if (options.TlsSecret is not null)
        {
            text.Append("tls:\n");
            text.Append("  certificate: ").Append(Quoted($"{TlsMountPath}/{TlsFiles.Certificate}")).Append('\n');
            text.Append("  key: ").Append(Quoted($"{TlsMountPath}/{TlsFiles.Key}")).Append('\n');
            text.Append("  ca: ").Append(Quoted($"{TlsMountPath}/{TlsFiles.Ca}")).Append('\n');
        }
        return text.ToString();
    }

    private static string Quoted(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    /// <summary>The owner reference every other object of the job carries (<paramref name="ownerUid"/>: the created ConfigMap's uid).</summary>
    public static V1OwnerReference OwnerReference(string jobId, string ownerUid) =>
        new() { ApiVersion = "v1", Kind = "ConfigMap", Name = WorkerPodPlan.GroupName(jobId), Uid = ownerUid, BlockOwnerDeletion = true, Controller = true };

    /// <summary>The headless Service of the job's worker pods.</summary>
    public static V1Service Service(string jobId, KubernetesLauncherOptions options, string ownerUid)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new V1Service
        {
            ApiVersion = "v1",
            Kind = "Service",
            Metadata = new V1ObjectMeta
            {
                Name = WorkerPodPlan.GroupName(jobId), NamespaceProperty = options.Namespace, Labels = Labels(jobId),
                OwnerReferences = [OwnerReference(jobId, ownerUid)],
            },
            Spec = new V1ServiceSpec
            {
                ClusterIP = "None",
                PublishNotReadyAddresses = true,
                Selector = new Dictionary<string, string> { [JobLabel] = jobId },
                Ports = [new V1ServicePort { Name = "silo", Port = options.Worker.SiloPort, TargetPort = options.Worker.SiloPort }],
            },
        };
    }

    /// <summary>The worker pod <paramref name="pod"/> of <paramref name="jobId"/>, in a group of <paramref name="podCount"/>;
    /// <paramref name="gpusPerRank"/> GPUs per rank (0 = none requested).</summary>
    public static V1Pod Pod(string jobId, WorkerPod pod, int podCount, KubernetesLauncherOptions options, string ownerUid, int gpusPerRank)
    {
        ArgumentNullException.ThrowIfNull(pod);
        ArgumentNullException.ThrowIfNull(options);
        var labels = Labels(jobId);
        var annotations = new Dictionary<string, string>(StringComparer.Ordinal);
        switch (options.PodGroup)
        {
            case PodGroupKind.Volcano:
                annotations[VolcanoGroupAnnotation] = WorkerPodPlan.GroupName(jobId);
                break;
            case PodGroupKind.Kueue:
                labels[KueueGroupLabel] = WorkerPodPlan.GroupName(jobId);
                annotations[KueueCountAnnotation] = podCount.ToString(CultureInfo.InvariantCulture);
                break;
        }
        if (options.Queue is { } queue) labels[KueueQueueLabel] = queue;

        var requests = options.WorkerResources.ToDictionary(r => r.Key, r => new ResourceQuantity(r.Value), StringComparer.Ordinal);
        var limits = new Dictionary<string, ResourceQuantity>(StringComparer.Ordinal);
        if (options.WorkerResources.TryGetValue("memory", out var memory)) limits["memory"] = new ResourceQuantity(memory);
        if (gpusPerRank > 0)
        {
            var gpus = new ResourceQuantity((gpusPerRank * pod.Ranks).ToString(CultureInfo.InvariantCulture));
            limits[GpuResource] = gpus; // extended resources: the limit is the request
            requests[GpuResource] = gpus;
        }
        var metrics = options.Worker.MetricsPort;
        var env = new List<V1EnvVar> { new() { Name = "POD_IP", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "status.podIP" } } } };
        var mounts = new List<V1VolumeMount>
        {
            new() { Name = "config", MountPath = ConfigMountPath, ReadOnlyProperty = true },
            new() { Name = "runs", MountPath = options.RunsMountPath },
        };
        var volumes = new List<V1Volume>
        {
            new() { Name = "config", ConfigMap = new V1ConfigMapVolumeSource { Name = WorkerPodPlan.GroupName(jobId) } },
            new() { Name = "runs", PersistentVolumeClaim = new V1PersistentVolumeClaimVolumeSource { ClaimName = options.RunsVolumeClaim } },
        };
        if (options.TlsSecret is { } secret)
        {
            // The pod's silo reads the files through its config; the variables let `orchestrator status` etc. run in the pod.
            env.Add(new V1EnvVar { Name = "ORCHESTRATOR_TLS_CERT", Value = $"{TlsMountPath}/{TlsFiles.Certificate}" });
            env.Add(new V1EnvVar { Name = "ORCHESTRATOR_TLS_KEY", Value = $"{TlsMountPath}/{TlsFiles.Key}" });
            env.Add(new V1EnvVar { Name = "ORCHESTRATOR_TLS_CA", Value = $"{TlsMountPath}/{TlsFiles.Ca}" });
            mounts.Add(new V1VolumeMount { Name = "tls", MountPath = TlsMountPath, ReadOnlyProperty = true });
            volumes.Add(new V1Volume { Name = "tls", Secret = new V1SecretVolumeSource { SecretName = secret, DefaultMode = 0x100 } }); // 0400
        }
        return new V1Pod
        {
            ApiVersion = "v1",
            Kind = "Pod",
            Metadata = new V1ObjectMeta
            {
                Name = pod.Name, NamespaceProperty = options.Namespace, Labels = labels, Annotations = annotations.Count == 0 ? null : annotations,
                OwnerReferences = [OwnerReference(jobId, ownerUid)],
            },
            Spec = new V1PodSpec
            {
                RestartPolicy = "Never",
                Hostname = pod.Name,
                Subdomain = WorkerPodPlan.GroupName(jobId),
                AutomountServiceAccountToken = false,
                SchedulerName = options.SchedulerName,
                NodeSelector = options.NodeSelector.Count == 0 ? null : new Dictionary<string, string>(options.NodeSelector),
                Tolerations = options.Tolerations.Count == 0 ? null
                    : [.. options.Tolerations.Select(t => new V1Toleration { Key = t.Key, OperatorProperty = t.Operator, Value = t.Value, Effect = t.Effect })],
                Containers =
                [
                    new V1Container
                    {
                        Name = "worker",
                        Image = options.Image,
                        Args = ["up", "--config", $"{ConfigMountPath}/{ConfigKey}", "--host", "$(POD_IP)"],
                        Env = env,
                        Ports =
                        [
                            new V1ContainerPort { Name = "silo", ContainerPort = options.Worker.SiloPort },
                            new V1ContainerPort { Name = "gateway", ContainerPort = options.Worker.GatewayPort },
                            new V1ContainerPort { Name = "metrics", ContainerPort = metrics },
                        ],
                        ReadinessProbe = new V1Probe
                        {
                            HttpGet = new V1HTTPGetAction { Path = "/readyz", Port = metrics },
                            PeriodSeconds = 2,
                            FailureThreshold = 2,
                        },
                        Resources = new V1ResourceRequirements { Requests = requests.Count == 0 ? null : requests, Limits = limits.Count == 0 ? null : limits },
                        VolumeMounts = mounts,
                    },
                ],
                Volumes = volumes,
            },
        };
    }
}
