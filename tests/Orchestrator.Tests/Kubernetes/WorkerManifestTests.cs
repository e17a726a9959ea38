using k8s;
using k8s.Models;
using Orchestrator.Scheduler.Kubernetes;
using Orchestrator.Silos.Config;
using Orchestrator.Tests.Deployment;

namespace Orchestrator.Tests.Kubernetes;

/// <summary>The pure parts of the Kubernetes launcher: which pods a gang needs and what they look like.</summary>
public sealed class WorkerManifestTests
{
    private static KubernetesLauncherOptions Options(Func<KubernetesLauncherOptions, KubernetesLauncherOptions>? change = null)
    {
        var options = new KubernetesLauncherOptions
        {
            Namespace = "ml", Image = "registry.example/worker:2", RanksPerPod = 2, RunsMountPath = "/runs",
            WorkerResources = new Dictionary<string, string> { ["cpu"] = "4", ["memory"] = "8Gi" },
            Worker = new WorkerSiloSettings("prod", "orchestrator-redis:6379", 11111, 30000, 9390),
        };
        return change is null ? options : change(options);
    }

    [Theory]
    [InlineData(1, 1, new[] { 1 })]
    [InlineData(5, 2, new[] { 2, 2, 1 })]
    [InlineData(8, 4, new[] { 4, 4 })]
    [InlineData(3, 8, new[] { 3 })]
    public void A_gang_gets_ceil_workers_over_ranks_per_pod_pods_all_full_but_the_last(int workers, int perPod, int[] ranks)
    {
        var plan = WorkerPodPlan.For("job", workers, perPod);
        Assert.Equal(ranks, plan.Select(p => p.Ranks));
        Assert.Equal(workers, plan.Sum(p => p.Ranks));
        Assert.Equal(plan.Select((_, i) => $"job-w{i}"), plan.Select(p => p.Name));
    }

    [Fact]
    public void Long_job_names_give_distinct_pod_names_that_fit_a_host_name()
    {
        var a = new string('a', 63);
        var b = new string('a', 62) + "b";
        var names = new[] { a, b }.SelectMany(j => WorkerPodPlan.For(j, 12, 1).Select(p => p.Name).Append(WorkerPodPlan.GroupName(j))).ToList();
        Assert.All(names, n => Assert.True(n.Length <= WorkerPodPlan.MaxNameLength && DnsLabelLike(n), n));
        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.Equal("short-w3", WorkerPodPlan.PodName("short", 3)); // short names stay readable
    }

    private static bool DnsLabelLike(string name) => System.Text.RegularExpressions.Regex.IsMatch(name, "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$");

    [Fact]
    public void Pods_carry_labels_owner_runs_volume_config_and_the_worker_silo_command()
    {
        var options = Options();
        var pod = WorkerManifests.Pod("fm", new WorkerPod("fm-w0", 2), 3, options, "uid-1", gpusPerRank: 0);
        Assert.Equal("fm-w0", pod.Metadata.Name);
        Assert.Equal("ml", pod.Metadata.NamespaceProperty);
        Assert.Equal("fm", pod.Metadata.Labels[WorkerManifests.JobLabel]);
        Assert.Equal("worker", pod.Metadata.Labels["app.kubernetes.io/component"]);
        var owner = Assert.Single(pod.Metadata.OwnerReferences);
        Assert.Equal(("ConfigMap", "fm-workers", "uid-1", true), (owner.Kind, owner.Name, owner.Uid, owner.Controller));
        Assert.Equal("Never", pod.Spec.RestartPolicy);
        Assert.Equal(("fm-w0", "fm-workers"), (pod.Spec.Hostname, pod.Spec.Subdomain));
        var container = Assert.Single(pod.Spec.Containers);
        Assert.Equal("registry.example/worker:2", container.Image);
        Assert.Equal(["up", "--config", "/etc/orchestrator-worker/worker.yaml", "--host", "$(POD_IP)"], container.Args);
        Assert.Equal("status.podIP", Assert.Single(container.Env).ValueFrom.FieldRef.FieldPath);
        Assert.Equal("/runs", container.VolumeMounts.Single(m => m.Name == "runs").MountPath);
        Assert.Equal("orchestrator-runs", pod.Spec.Volumes.Single(v => v.Name == "runs").PersistentVolumeClaim.ClaimName);
        Assert.Equal("fm-workers", pod.Spec.Volumes.Single(v => v.Name == "config").ConfigMap.Name);
        Assert.Equal("/readyz", container.ReadinessProbe.HttpGet.Path);
        Assert.Equal("4", container.Resources.Requests["cpu"].ToString());
        Assert.Equal("8Gi", container.Resources.Limits["memory"].ToString());
        Assert.False(container.Resources.Limits.ContainsKey(WorkerManifests.GpuResource)); // no GPUs asked: none requested
        Assert.Null(pod.Spec.NodeSelector);
        Assert.Null(pod.Spec.Tolerations);
        Assert.Null(pod.Metadata.Annotations);
    }

    [Fact]
    public void Gpus_selectors_tolerations_and_gang_hints_come_from_the_options()
    {
        var options = Options(o => o with
        {
            NodeSelector = new Dictionary<string, string> { ["nvidia.com/gpu.product"] = "H100" },
            Tolerations = [new PodToleration("nvidia.com/gpu", "Exists", null, "NoSchedule")],
            SchedulerName = "volcano", PodGroup = PodGroupKind.Volcano,
        });
        var pod = WorkerManifests.Pod("fm", new WorkerPod("fm-w1", 3), 2, options, "uid", gpusPerRank: 2);
        var resources = pod.Spec.Containers[0].Resources;
        Assert.Equal("6", resources.Limits[WorkerManifests.GpuResource].ToString()); // 3 ranks x 2
        Assert.Equal("6", resources.Requests[WorkerManifests.GpuResource].ToString());
        Assert.Equal("H100", pod.Spec.NodeSelector["nvidia.com/gpu.product"]);
        var toleration = Assert.Single(pod.Spec.Tolerations);
        Assert.Equal(("nvidia.com/gpu", "Exists", "NoSchedule"), (toleration.Key, toleration.OperatorProperty, toleration.Effect));
        Assert.Equal("volcano", pod.Spec.SchedulerName);
        Assert.Equal("fm-workers", pod.Metadata.Annotations[WorkerManifests.VolcanoGroupAnnotation]);

        var kueue = WorkerManifests.Pod("fm", new WorkerPod("fm-w1", 3), 2, options with { PodGroup = PodGroupKind.Kueue, Queue = "team-a", SchedulerName = null }, "uid", 0);
        Assert.Equal("fm-workers", kueue.Metadata.Labels[WorkerManifests.KueueGroupLabel]);
        Assert.Equal("2", kueue.Metadata.Annotations[WorkerManifests.KueueCountAnnotation]);
        Assert.Equal("team-a", kueue.Metadata.Labels[WorkerManifests.KueueQueueLabel]);
        Assert.Null(kueue.Spec.SchedulerName);
    }

    [Fact]
    public void The_headless_service_selects_exactly_the_jobs_pods()
    {
        var options = Options();
        var service = WorkerManifests.Service("fm", options, "uid-9");
        Assert.Equal("None", service.Spec.ClusterIP);
        Assert.True(service.Spec.PublishNotReadyAddresses);
        Assert.Equal("uid-9", Assert.Single(service.Metadata.OwnerReferences).Uid);
        var mine = WorkerManifests.Pod("fm", new WorkerPod("fm-w0", 1), 1, options, "uid-9", 0);
        var other = WorkerManifests.Pod("fm2", new WorkerPod("fm2-w0", 1), 1, options, "uid-8", 0);
        Assert.All(service.Spec.Selector, s => Assert.Equal(s.Value, mine.Metadata.Labels[s.Key]));
        Assert.Contains(service.Spec.Selector, s => other.Metadata.Labels[s.Key] != s.Value);
        Assert.Equal(mine.Spec.Subdomain, service.Metadata.Name);
    }

    [Fact]
    public void The_worker_silo_config_is_read_by_the_real_config_reader_as_a_node_of_the_same_cluster()
    {
        var options = Options();
        var owner = WorkerManifests.Owner("fm", options, gpusPerRank: 1);
        var config = SiloConfigLoader.Parse(owner.Data[WorkerManifests.ConfigKey], "worker.yaml", System.Net.IPAddress.Parse("10.1.2.3"));
        Assert.Equal(("prod", "orchestrator-redis:6379", 11111, 30000, 9390, "/runs"),
            (config.ClusterId, config.Redis, config.SiloPort, config.GatewayPort, config.MetricsPort, config.RunsRoot));
        var node = config.Node!;
        Assert.Equal("10.1.2.3", node.Address.ToString()); // the pod IP, from up --host
        Assert.Equal((2, 2), (node.Slots, node.Gpus));
        Assert.Equal("fm", node.Labels[WorkerManifests.NodeJobLabel]);
        Assert.Null(config.Kubernetes); // a worker pod launches nothing itself
        Assert.Null(config.Tls);
    }

    [Fact]
    public void With_a_tls_secret_every_worker_pod_mounts_it_and_its_silo_uses_the_files()
    {
        var options = Options(o => o with { TlsSecret = "orchestrator-tls" });
        var pod = WorkerManifests.Pod("fm", new WorkerPod("fm-w0", 1), 1, options, "uid-9", 0);
        var volume = pod.Spec.Volumes.Single(v => v.Name == "tls");
        Assert.Equal(("orchestrator-tls", 0x100), (volume.Secret.SecretName, volume.Secret.DefaultMode!.Value));
        var container = Assert.Single(pod.Spec.Containers);
        var mount = container.VolumeMounts.Single(m => m.Name == "tls");
        Assert.Equal((WorkerManifests.TlsMountPath, true), (mount.MountPath, mount.ReadOnlyProperty!.Value));
        Assert.Equal($"{WorkerManifests.TlsMountPath}/tls.crt", container.Env.Single(e => e.Name == "ORCHESTRATOR_TLS_CERT").Value);

        var owner = WorkerManifests.Owner("fm", options, gpusPerRank: 0);
        var config = SiloConfigLoader.Parse(owner.Data[WorkerManifests.ConfigKey], "worker.yaml", System.Net.IPAddress.Parse("10.1.2.3"));
        Assert.Equal(($"{WorkerManifests.TlsMountPath}/tls.crt", $"{WorkerManifests.TlsMountPath}/tls.key", $"{WorkerManifests.TlsMountPath}/ca.crt"),
            (config.Tls!.Certificate, config.Tls.Key, config.Tls.Ca));
        // Without the secret the pods get neither the volume nor the variables.
        var plain = WorkerManifests.Pod("fm", new WorkerPod("fm-w0", 1), 1, Options(), "uid-9", 0);
        Assert.DoesNotContain(plain.Spec.Volumes, v => v.Name == "tls");
        Assert.DoesNotContain(plain.Spec.Containers[0].Env, e => e.Name.StartsWith("ORCHESTRATOR_TLS", StringComparison.Ordinal));
    }

    [Fact]
    public void Every_object_the_launcher_creates_validates_against_the_kubernetes_schemas()
    {
        var options = Options(o => o with
        {
            Tolerations = [new PodToleration("gpu", "Equal", "yes", "NoSchedule")], NodeSelector = new Dictionary<string, string> { ["pool"] = "gpu" },
            PodGroup = PodGroupKind.Kueue, Queue = "q", TlsSecret = "orchestrator-tls",
        });
        var objects = new List<object> { WorkerManifests.Owner("fm", options, 1), WorkerManifests.Service("fm", options, "uid") };
        objects.AddRange(WorkerPodPlan.For("fm", 3, 2).Select(p => WorkerManifests.Pod("fm", p, 2, options, "uid", 1)));
        var yaml = string.Join("\n---\n", objects.Select(o => KubernetesYaml.Serialize(o).TrimEnd())) + "\n";
        var (exitCode, output) = KubernetesTools.Validate(yaml);
        Assert.True(exitCode == 0, output);
        Assert.Equal(objects.Count, output.Split('\n').Count(l => l.StartsWith("ok ", StringComparison.Ordinal)));
    }
}
