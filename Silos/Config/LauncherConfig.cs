using System.Globalization;
using System.Text.RegularExpressions;
using Orchestrator.Scheduler.Kubernetes;
using Orchestrator.Spec;

namespace Orchestrator.Silos.Config;

/// <summary>
/// The <c>launcher</c> section of a silo config, as written (before checks): <c>kind: local</c> (the default: gangs run on this
/// machine or the registered nodes) or <c>kind: kubernetes</c> with the worker pods' settings (<see cref="KubernetesLauncherOptions"/>).
/// </summary>
public sealed partial record LauncherConfig(
    string Kind, string Namespace, string? Image, IReadOnlyDictionary<string, string> WorkerResources, int GpuPerWorker, int RanksPerPod,
    IReadOnlyDictionary<string, string> NodeSelector, IReadOnlyList<PodToleration> Tolerations, string? SchedulerName, string PodGroup, string? Queue,
    int PendingDeadlineSeconds, string RunsVolumeClaim, string? Kubeconfig, string? TlsSecret, IReadOnlyList<string> Given)
{
    /// <summary>The default launcher.</summary>
    public const string LocalKind = "local";

    /// <summary>The Kubernetes launcher.</summary>
    public const string KubernetesKind = "kubernetes";

    /// <summary>The keys that only <c>kind: kubernetes</c> reads.</summary>
    private static readonly string[] KubernetesKeys =
        ["namespace", "image", "worker_resources", "gpu_per_worker", "ranks_per_pod", "node_selector", "tolerations", "scheduler_name", "pod_group",
         "queue", "pending_deadline", "runs_volume_claim", "kubeconfig", "tls_secret"];

    /// <summary>Reads the section from <paramref name="reader"/> (the <c>launcher</c> mapping; empty when absent).</summary>
    internal static LauncherConfig Read(MappingReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var defaults = new KubernetesLauncherOptions { Namespace = "orchestrator", Image = "" };
        return new LauncherConfig(
            reader.String("kind", LocalKind), reader.String("namespace", defaults.Namespace), reader.Has("image") ? reader.String("image", "") : null,
            reader.StringMap("worker_resources"), reader.Int("gpu_per_worker", 0), reader.Int("ranks_per_pod", defaults.RanksPerPod),
            reader.StringMap("node_selector"),
            reader.List("tolerations", [], t => new PodToleration(t.String("key", ""), t.String("operator", "Equal"),
                t.Has("value") ? t.String("value", "") : null, t.Has("effect") ? t.String("effect", "") : null)),
            reader.Has("scheduler_name") ? reader.String("scheduler_name", "") : null, reader.String("pod_group", "none"),
            reader.Has("queue") ? reader.String("queue", "") : null, reader.Int("pending_deadline", (int)defaults.PendingDeadline.TotalSeconds),
            reader.String("runs_volume_claim", defaults.RunsVolumeClaim), reader.Has("kubeconfig") ? reader.String("kubeconfig", "") : null,
            reader.Has("tls_secret") ? reader.String("tls_secret", "") : null,
            [.. KubernetesKeys.Where(reader.Has)]);
    }

    /// <summary>Every problem as (field under <c>launcher.</c>, message); none = usable. <paramref name="clusterTls"/>: the silo config has a
    /// <c>tls</c> section (the worker pods then need the Secret with the same files).</summary>
    public IReadOnlyList<(string Field, string Message)> Problems(string runsRoot, bool clusterTls)
    {
        var problems = new List<(string, string)>();
        void Check(bool ok, string field, string message)
        {
            if (!ok) problems.Add((field, message));
        }
        if (Kind != KubernetesKind)
        {
            Check(Kind == LocalKind, "kind", $"expected {LocalKind} or {KubernetesKind}, got '{Kind}'");
            foreach (var key in Given) Check(false, key, $"applies only to kind: {KubernetesKind} (this launcher is {Kind})");
            return problems;
        }
        Check(DnsLabel.IsValid(Namespace), "namespace", $"must be a Kubernetes namespace name ({DnsLabel.Rule}); got '{Namespace}'");
        Check(Image is not null, "image", "is required with kind: kubernetes (the worker image, e.g. registry.example/orchestrator-worker:1.0)");
        Check(Image is null || (Image.Length > 0 && !Image.Any(char.IsWhiteSpace)), "image", $"must be an image reference without blanks, got '{Image}'");
        foreach (var (name, value) in WorkerResources)
        {
            Check(name != WorkerManifests.GpuResource, $"worker_resources.{name}", "GPUs are requested with gpu_per_worker (per rank, only for jobs that use them)");
            Check(ResourceName().IsMatch(name), $"worker_resources.{name}", "is not a resource name (e.g. cpu, memory, ephemeral-storage)");
            Check(Quantity().IsMatch(value), $"worker_resources.{name}", $"expected a Kubernetes quantity (e.g. 2, 500m, 4Gi), got '{value}'");
        }
        Check(GpuPerWorker is >= 0 and <= 16, "gpu_per_worker", $"must be 0..16, got {GpuPerWorker}");
        Check(RanksPerPod is >= 1 and <= 256, "ranks_per_pod", $"must be 1..256, got {RanksPerPod}");
        foreach (var (key, value) in NodeSelector)
            Check(key.Length > 0 && value.Length > 0 && !value.Any(char.IsWhiteSpace), $"node_selector.{key}", $"needs a label name and a value without blanks, got '{value}'");
        for (var i = 0; i < Tolerations.Count; i++)
        {
            var t = Tolerations[i];
            var at = string.Create(CultureInfo.InvariantCulture, $"tolerations[{i}]");
            Check(t.Operator is "Equal" or "Exists", $"{at}.operator", $"expected Equal or Exists, got '{t.Operator}'");
            Check(t.Effect is null or "NoSchedule" or "PreferNoSchedule" or "NoExecute", $"{at}.effect", $"expected NoSchedule, PreferNoSchedule or NoExecute, got '{t.Effect}'");
            Check(t.Operator != "Exists" || t.Value is null, $"{at}.value", "must be left out with operator Exists");
            Check(t.Operator != "Equal" || t.Key.Length > 0, $"{at}.key", "is required with operator Equal");
        }
        Check(SchedulerName is null || Subdomain().IsMatch(SchedulerName), "scheduler_name", $"expected a scheduler name (e.g. volcano), got '{SchedulerName}'");
        Check(PodGroup is "none" or "volcano" or "kueue", "pod_group", $"expected none, volcano or kueue, got '{PodGroup}'");
        Check(PodGroup != "kueue" || Queue is not null, "queue", "is required with pod_group: kueue (the LocalQueue the pods are admitted through)");
        Check(Queue is null || DnsLabel.IsValid(Queue), "queue", $"must be a LocalQueue name ({DnsLabel.Rule}); got '{Queue}'");
        Check(PendingDeadlineSeconds is >= 10 and <= 86400, "pending_deadline", $"must be 10..86400 seconds, got {PendingDeadlineSeconds}");
        Check(Subdomain().IsMatch(RunsVolumeClaim), "runs_volume_claim", $"expected a PersistentVolumeClaim name, got '{RunsVolumeClaim}'");
        Check(Kubeconfig is null || Kubeconfig.Length > 0, "kubeconfig", "must be a file path (leave it out to use the pod's service account)");
        Check(TlsSecret is null || Subdomain().IsMatch(TlsSecret), "tls_secret", $"expected a Secret name, got '{TlsSecret}'");
        Check(!clusterTls || TlsSecret is not null, "tls_secret",
            "is required with tls: the Secret (keys tls.crt, tls.key, ca.crt) the worker pods mount, or their silos cannot join the cluster");
        Check(clusterTls || TlsSecret is null, "tls_secret", "is set but the silo config has no tls section (the cluster runs without TLS)");
        Check(Path.IsPathFullyQualified(runsRoot), "runs_root", $"must be an absolute path with the Kubernetes launcher (the worker pods mount runs_volume_claim there), got '{runsRoot}'");
        return problems;
    }

    /// <summary>The launcher options of a valid <c>kind: kubernetes</c> section; null for <c>local</c>.</summary>
    public KubernetesLauncherOptions? ToOptions(string runsRoot, WorkerSiloSettings worker) => Kind != KubernetesKind ? null : new KubernetesLauncherOptions
    {
        Namespace = Namespace,
        Image = Image ?? "",
        WorkerResources = WorkerResources,
        GpusPerWorker = GpuPerWorker,
        RanksPerPod = RanksPerPod,
        NodeSelector = NodeSelector,
        Tolerations = Tolerations,
        SchedulerName = SchedulerName,
        PodGroup = PodGroup switch { "volcano" => PodGroupKind.Volcano, "kueue" => PodGroupKind.Kueue, _ => PodGroupKind.None },
        Queue = Queue,
        PendingDeadline = TimeSpan.FromSeconds(PendingDeadlineSeconds),
        RunsVolumeClaim = RunsVolumeClaim,
        RunsMountPath = runsRoot,
        Kubeconfig = Kubeconfig,
        TlsSecret = TlsSecret,
        Worker = worker,
    };

    [GeneratedRegex(@"^([a-z0-9.-]+/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")]
    private static partial Regex ResourceName();

    [GeneratedRegex(@"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][0-9]+)?$")]
    private static partial Regex Quantity();

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")]
    private static partial Regex Subdomain();
}
