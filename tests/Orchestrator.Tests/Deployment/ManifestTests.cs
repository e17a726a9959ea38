using Orchestrator.Silos.Config;
using Orchestrator.Silos.Health;
using Orchestrator.Tests.Observability;
using static Orchestrator.Tests.Deployment.KubernetesTools;

namespace Orchestrator.Tests.Deployment;

/// <summary>
/// The manifests of <c>k8s/</c>, offline: every overlay renders with <c>kubectl kustomize</c>, every object validates against
/// the Kubernetes (and Prometheus Operator) schemas, and the objects agree with each other and with the code: selectors
/// match the pods they target, ports match the silo config the silos read (through the real config reader), probes hit the
/// health paths the silo serves, RBAC grants exactly the launcher's verbs, the dashboard ConfigMap holds the dashboard file.
/// No API server is involved: what a server would add (admission, defaulting, unknown-field checks) is not tested.
/// </summary>
public sealed class ManifestTests
{
    /// <summary>What the Kubernetes launcher calls, resource by resource (its own list; the launcher tests check every call it makes
    /// against the stand-in API is on it); rbac.yaml must grant exactly this.</summary>
    private static readonly IReadOnlyDictionary<string, string[]> LauncherVerbs = Orchestrator.Scheduler.Kubernetes.KubernetesApiVerbs.Used;

    public static TheoryData<string> AllOverlays => [.. Overlays];

    [Theory]
    [MemberData(nameof(AllOverlays))]
    public void Every_object_of_the_overlay_validates_against_its_schema(string overlay)
    {
        var (objects, yaml) = Render(overlay);
        var (exitCode, output) = Validate(yaml);
        Assert.True(exitCode == 0, $"k8s/overlays/{overlay}:\n{output}");
        Assert.Equal(objects.Count, output.Split('\n').Count(l => l.StartsWith("ok ", StringComparison.Ordinal)));
        foreach (var kind in new[] { "Namespace", "ServiceAccount", "Role", "RoleBinding", "StatefulSet", "Service", "PodDisruptionBudget",
                     "NetworkPolicy", "ServiceMonitor", "PodMonitor", "PersistentVolumeClaim", "ConfigMap", "PodTemplate" })
            Assert.Contains(objects, o => Kind(o) == kind);
    }

    [Fact]
    public void The_validator_refuses_an_object_that_breaks_its_schema()
    {
        var (_, yaml) = Render("cpu");
        var broken = yaml.Replace("containerPort: 11111", "containerPort: eleven", StringComparison.Ordinal);
        Assert.NotEqual(yaml, broken);
        var (exitCode, output) = Validate(broken);
        Assert.Equal(1, exitCode);
        Assert.Contains("error StatefulSet orchestrator-silo", output, StringComparison.Ordinal);
        var (unknownCode, unknownOutput) = Validate("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n");
        Assert.Equal(1, unknownCode);
        Assert.Contains("no schema", unknownOutput, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(AllOverlays))]
    public void Every_selector_matches_the_pods_it_targets(string overlay)
    {
        var (objects, _) = Render(overlay);
        var pods = new List<(string Owner, Dictionary<string, string> Labels)>();
        foreach (var set in objects.Where(o => Kind(o) == "StatefulSet"))
        {
            var labels = Labels(Get(set, "spec", "template", "metadata", "labels"));
            Assert.True(Matches(Labels(Get(set, "spec", "selector", "matchLabels")), labels), $"StatefulSet {Name(set)}: selector does not match its template");
            var service = Single(objects, "Service", Str(set, "spec", "serviceName"));
            Assert.True(Matches(Labels(Get(service, "spec", "selector")), labels), $"StatefulSet {Name(set)}: its serviceName's selector does not match it");
            pods.Add(($"StatefulSet {Name(set)}", labels));
        }
        foreach (var template in objects.Where(o => Kind(o) == "PodTemplate"))
            pods.Add(($"PodTemplate {Name(template)}", Labels(Get(template, "template", "metadata", "labels"))));

        void MustTarget(string what, Dictionary<string, string> selector, string expectedComponent)
        {
            var targets = pods.Where(p => Matches(selector, p.Labels)).ToList();
            Assert.True(targets.Count > 0, $"{what}: selector {string.Join(",", selector)} matches no pod");
            if (expectedComponent.Length > 0)
                Assert.Contains(targets, p => p.Labels.GetValueOrDefault("app.kubernetes.io/component") == expectedComponent);
        }
        foreach (var service in objects.Where(o => Kind(o) == "Service"))
            MustTarget($"Service {Name(service)}", Labels(Get(service, "spec", "selector")), Name(service) == "orchestrator-redis" ? "redis" : "silo");
        MustTarget("PodDisruptionBudget", Labels(Get(Single(objects, "PodDisruptionBudget", "orchestrator-silo"), "spec", "selector", "matchLabels")), "silo");
        foreach (var policy in objects.Where(o => Kind(o) == "NetworkPolicy"))
        {
            var selector = Labels(Get(policy, "spec", "podSelector", "matchLabels"));
            if (selector.Count > 0) MustTarget($"NetworkPolicy {Name(policy)}", selector, "");
            foreach (var rule in List(policy, "spec", "ingress"))
                foreach (var from in List(rule, "from").Where(f => Get(f, "podSelector") is not null))
                    MustTarget($"NetworkPolicy {Name(policy)} (from)", Labels(Get(from, "podSelector", "matchLabels")), "");
        }
        var podMonitor = Single(objects, "PodMonitor", "orchestrator-worker");
        MustTarget("PodMonitor", Labels(Get(podMonitor, "spec", "selector", "matchLabels")), "worker");
        var serviceMonitor = Single(objects, "ServiceMonitor", "orchestrator-silo");
        var monitored = objects.Where(o => Kind(o) == "Service" && Matches(Labels(Get(serviceMonitor, "spec", "selector", "matchLabels")), Labels(Get(o, "metadata", "labels")))).ToList();
        var metricsService = Assert.Single(monitored);
        var endpointPort = Str(List(serviceMonitor, "spec", "endpoints")[0], "port");
        Assert.Contains(List(metricsService, "spec", "ports"), p => Str(p, "name") == endpointPort);
    }

    [Theory]
    [MemberData(nameof(AllOverlays))]
    public void Silo_ports_and_probes_match_the_silo_config_and_the_health_endpoint(string overlay)
    {
        var (objects, _) = Render(overlay);
        var configMap = objects.Single(o => Kind(o) == "ConfigMap" && Name(o).StartsWith("orchestrator-silo-config", StringComparison.Ordinal));
        var config = SiloConfigLoader.Parse(Str(configMap, "data", "silo.yaml"), "ConfigMap silo.yaml"); // throws with every error
        Assert.Equal("/runs", config.RunsRoot);
        Assert.NotNull(config.Redis);

        var silo = Single(objects, "StatefulSet", "orchestrator-silo");
        var container = List(silo, "spec", "template", "spec", "containers").Single(c => Str(c, "name") == "silo");
        var ports = List(container, "ports").ToDictionary(p => Str(p, "name"), p => int.Parse(Str(p, "containerPort"), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(config.SiloPort, ports["silo"]);
        Assert.Equal(config.GatewayPort, ports["gateway"]);
        Assert.Equal(config.MetricsPort, ports["metrics"]);
        // The Orleans dashboard: on the pod's loopback, reached by `kubectl port-forward` (which connects there), so no
        // Service publishes it and no NetworkPolicy opens it (the policies below allow exactly their own ports).
        var dashboard = Assert.IsType<Orchestrator.Silos.Dashboard.DashboardConfig>(config.Dashboard);
        Assert.True(System.Net.IPAddress.IsLoopback(dashboard.Address), $"dashboard.address {dashboard.Address} is not loopback");
        Assert.Equal(dashboard.Port, ports["dashboard"]);
        foreach (var service in objects.Where(o => Kind(o) == "Service"))
            Assert.DoesNotContain(List(service, "spec", "ports"), p => Str(p, "port") == ports["dashboard"].ToString(System.Globalization.CultureInfo.InvariantCulture)
                || Str(p, "targetPort") is "dashboard" || Str(p, "targetPort") == ports["dashboard"].ToString(System.Globalization.CultureInfo.InvariantCulture));

        var args = List(container, "args").Cast<string>().ToList();
        Assert.Equal(["up", "--config"], args.Take(2));
        var volume = List(silo, "spec", "template", "spec", "volumes").Single(v => Str(v, "configMap", "name") == Name(configMap));
        var mount = List(container, "volumeMounts").Single(m => Str(m, "name") == Str(volume, "name"));
        Assert.Equal($"{Str(mount, "mountPath")}/silo.yaml", args[2]);
        Assert.Equal(["--host", "$(POD_IP)"], args.Skip(3));
        Assert.Contains(List(container, "env"), e => Str(e, "name") == "POD_IP" && Str(e, "valueFrom", "fieldRef", "fieldPath") == "status.podIP");
        var runsMount = List(container, "volumeMounts").Single(m => Str(m, "mountPath") == config.RunsRoot);
        var runsVolume = List(silo, "spec", "template", "spec", "volumes").Single(v => Str(v, "name") == Str(runsMount, "name"));
        var claim = Single(objects, "PersistentVolumeClaim", Str(runsVolume, "persistentVolumeClaim", "claimName"));
        Assert.Equal(["ReadWriteMany"], List(claim, "spec", "accessModes").Cast<string>());

        Assert.Equal(HealthPaths.Liveness, Str(container, "livenessProbe", "httpGet", "path"));
        Assert.Equal(HealthPaths.Liveness, Str(container, "startupProbe", "httpGet", "path"));
        Assert.Equal(HealthPaths.Readiness, Str(container, "readinessProbe", "httpGet", "path"));
        foreach (var probe in new[] { "livenessProbe", "startupProbe", "readinessProbe" })
            Assert.Equal("metrics", Str(container, probe, "httpGet", "port")); // the health paths live on the metrics listener

        var headless = Single(objects, "Service", "orchestrator-silo");
        var servicePorts = List(headless, "spec", "ports").ToDictionary(p => Str(p, "name"), p => Str(p, "port"));
        Assert.Equal(config.SiloPort.ToString(System.Globalization.CultureInfo.InvariantCulture), servicePorts["silo"]);
        Assert.Equal(config.GatewayPort.ToString(System.Globalization.CultureInfo.InvariantCulture), servicePorts["gateway"]);
        var siloPolicy = Single(objects, "NetworkPolicy", "orchestrator-silo-ports");
        var allowed = List(siloPolicy, "spec", "ingress").SelectMany(r => List(r, "ports")).Select(p => Str(p, "port")).ToHashSet();
        Assert.Equal(new HashSet<string> { servicePorts["silo"], servicePorts["gateway"] }, allowed);
        var metricsPolicy = Single(objects, "NetworkPolicy", "orchestrator-metrics");
        Assert.Contains(List(metricsPolicy, "spec", "ingress").SelectMany(r => List(r, "ports")), p => Str(p, "port") == ports["metrics"].ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.All(List(metricsPolicy, "spec", "ingress").SelectMany(r => List(r, "from")),
            f => Assert.Equal("monitoring", Str(f, "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name")));
        Assert.True(int.Parse(Str(silo, "spec", "template", "spec", "terminationGracePeriodSeconds"), System.Globalization.CultureInfo.InvariantCulture) >= 30);
    }

    [Fact]
    public void The_role_grants_exactly_the_launchers_verbs()
    {
        var (objects, _) = Render("cpu");
        var role = Single(objects, "Role", "orchestrator-launcher");
        var granted = List(role, "rules").SelectMany(r => List(r, "resources").Cast<string>().Select(resource =>
        {
            Assert.Equal([""], List(r, "apiGroups").Cast<string>());
            return (resource, verbs: List(r, "verbs").Cast<string>().Order(StringComparer.Ordinal).ToArray());
        })).ToDictionary(g => g.resource, g => g.verbs);
        Assert.Equal(LauncherVerbs.Keys.Order(), granted.Keys.Order());
        foreach (var (resource, verbs) in LauncherVerbs)
            Assert.Equal(verbs, granted[resource]);
        var binding = Single(objects, "RoleBinding", "orchestrator-launcher");
        Assert.Equal(Name(role), Str(binding, "roleRef", "name"));
        var subject = Assert.Single(List(binding, "subjects"));
        var account = Single(objects, "ServiceAccount", Str(subject, "name"));
        Assert.Equal(Str(account, "metadata", "namespace"), Str(subject, "namespace"));
        Assert.Equal(Name(account), Str(Single(objects, "StatefulSet", "orchestrator-silo"), "spec", "template", "spec", "serviceAccountName"));
    }

    [Theory]
    [MemberData(nameof(AllOverlays))]
    public void The_dashboard_config_map_holds_the_dashboard_file_byte_for_byte(string overlay)
    {
        var (objects, _) = Render(overlay);
        var dashboard = Single(objects, "ConfigMap", "orchestrator-grafana-dashboard");
        Assert.Equal("1", Str(dashboard, "metadata", "labels", "grafana_dashboard"));
        Assert.Equal(File.ReadAllText(RepoFiles.Path("k8s/grafana/orchestrator-dashboard.json")), Str(dashboard, "data", "orchestrator-dashboard.json"));
    }

    [Fact]
    public void The_gpu_overlay_asks_for_gpus_and_the_tls_overlay_mounts_certificates()
    {
        var (gpu, _) = Render("gpu");
        foreach (var pod in new[]
                 {
                     Map(Single(gpu, "StatefulSet", "orchestrator-silo"), "spec", "template", "spec"),
                     Map(Single(gpu, "PodTemplate", "orchestrator-worker"), "template", "spec"),
                 })
        {
            Assert.Equal("1", Str(List(pod, "containers")[0], "resources", "limits", "nvidia.com/gpu"));
            Assert.Contains(List(pod, "tolerations"), t => Str(t, "key") == "nvidia.com/gpu");
            Assert.Equal("true", Str(pod, "nodeSelector", "nvidia.com/gpu.present"));
        }
        var (tls, _) = Render("tls");
        var silo = Map(Single(tls, "StatefulSet", "orchestrator-silo"), "spec", "template", "spec");
        Assert.Contains(List(silo, "volumes"), v => Str(v, "secret", "secretName") == "orchestrator-tls");
        Assert.Contains(List(List(silo, "containers")[0], "volumeMounts"), m => Str(m, "mountPath") == "/etc/orchestrator-tls");
        var (cpu, _) = Render("cpu");
        Assert.Equal("", Str(List(Map(Single(cpu, "StatefulSet", "orchestrator-silo"), "spec", "template", "spec"), "containers")[0], "resources", "limits", "nvidia.com/gpu"));
    }

    [Fact]
    public void The_tls_overlay_points_the_silo_config_and_every_client_at_the_mounted_secret()
    {
        var (tls, _) = Render("tls");
        var (cpu, _) = Render("cpu");
        SiloConfig ConfigOf(List<Dictionary<string, object>> objects) => SiloConfigLoader.Parse(
            Str(objects.Single(o => Kind(o) == "ConfigMap" && Name(o).StartsWith("orchestrator-silo-config", StringComparison.Ordinal)), "data", "silo.yaml"), "ConfigMap silo.yaml");
        var config = ConfigOf(tls);
        var paths = Assert.IsType<Orchestrator.Silos.Security.TlsPaths>(config.Tls);
        Assert.Equal(ConfigOf(cpu), config with { Tls = null }); // the overlay's silo.yaml is the base's plus tls

        var pods = new[]
        {
            ("silo", Map(Single(tls, "StatefulSet", "orchestrator-silo"), "spec", "template", "spec")),
            ("worker", Map(Single(tls, "PodTemplate", "orchestrator-worker"), "template", "spec")),
        };
        foreach (var (name, pod) in pods)
        {
            var container = List(pod, "containers").Single(c => Str(c, "name") == name);
            var volume = List(pod, "volumes").Single(v => Str(v, "secret", "secretName") == "orchestrator-tls");
            var mount = List(container, "volumeMounts").Single(m => Str(m, "name") == Str(volume, "name"));
            Assert.Equal("true", Str(mount, "readOnly"));
            // Each configured file is a key of the Secret (cert-manager's names) inside the mount.
            foreach (var (file, key) in new[] { (paths.Certificate, "tls.crt"), (paths.Key!, "tls.key"), (paths.Ca, "ca.crt") })
                Assert.Equal($"{Str(mount, "mountPath")}/{key}", file);
            var env = List(container, "env").ToDictionary(e => Str(e, "name"), e => Str(e, "value"));
            Assert.Equal(paths.Certificate, env[Orchestrator.Silos.Security.TlsPaths.CertificateVariable]);
            Assert.Equal(paths.Key, env[Orchestrator.Silos.Security.TlsPaths.KeyVariable]);
            Assert.Equal(paths.Ca, env[Orchestrator.Silos.Security.TlsPaths.CaVariable]);
        }
        Assert.Null(ConfigOf(cpu).Tls);
    }
}
