using Orchestrator.Scheduler.Kubernetes;
using Orchestrator.Silos.Config;
using Orchestrator.Tests.Cli;

namespace Orchestrator.Tests.Kubernetes;

/// <summary>The <c>launcher</c> section of the silo config, through the real config reader.</summary>
public sealed class LauncherConfigTests
{
    [Fact]
    public void Without_a_launcher_section_the_local_launcher_stays()
    {
        Assert.Null(SiloConfigLoader.Parse("slots: 2\n", "silo.yaml").Kubernetes);
        Assert.Null(SiloConfigLoader.Parse("launcher: {kind: local}\n", "silo.yaml").Kubernetes);
    }

    [Fact]
    public void A_kubernetes_launcher_section_becomes_the_launchers_options()
    {
        var config = SiloConfigLoader.Parse("""
            cluster: {id: prod, redis: "orchestrator-redis:6379"}
            runs_root: /runs
            launcher:
              kind: kubernetes
              namespace: ml
              image: registry.example/worker:3
              worker_resources: {cpu: "4", memory: 16Gi}
              gpu_per_worker: 1
              ranks_per_pod: 8
              node_selector: {pool: a100}
              tolerations:
              - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
              scheduler_name: volcano
              pod_group: volcano
              pending_deadline: 600
              runs_volume_claim: shared-runs
            """, "silo.yaml");
        var k = config.Kubernetes!;
        Assert.Equal(("ml", "registry.example/worker:3", 1, 8), (k.Namespace, k.Image, k.GpusPerWorker, k.RanksPerPod));
        Assert.Equal("16Gi", k.WorkerResources["memory"]);
        Assert.Equal("a100", k.NodeSelector["pool"]);
        Assert.Equal(new PodToleration("nvidia.com/gpu", "Exists", null, "NoSchedule"), Assert.Single(k.Tolerations));
        Assert.Equal(("volcano", PodGroupKind.Volcano, TimeSpan.FromMinutes(10)), (k.SchedulerName, k.PodGroup, k.PendingDeadline));
        Assert.Equal(("shared-runs", "/runs"), (k.RunsVolumeClaim, k.RunsMountPath));
        Assert.Equal(new WorkerSiloSettings("prod", "orchestrator-redis:6379", 11111, 30000, 9390), k.Worker);
    }

    [Fact]
    public void Every_mistake_is_named_with_its_field_and_line()
    {
        var e = Assert.Throws<SiloConfigException>(() => SiloConfigLoader.Parse("""
            runs_root: runs
            launcher:
              kind: kubernetes
              namespace: Not_A_Namespace
              worker_resources: {cpu: lots, nvidia.com/gpu: "1"}
              gpu_per_worker: 99
              ranks_per_pod: 0
              tolerations:
              - {key: x, operator: Maybe, effect: Sometimes}
              pod_group: kueue
              pending_deadline: 1
            """, "silo.yaml"));
        var errors = e.Errors.Select(x => x.ToString()).ToList();
        void Has(string text) => Assert.Contains(errors, x => x.Contains(text, StringComparison.Ordinal));
        Has("launcher.namespace: must be a Kubernetes namespace name");
        Has("launcher.image: is required with kind: kubernetes");
        Has("launcher.worker_resources.cpu: expected a Kubernetes quantity (e.g. 2, 500m, 4Gi), got 'lots'");
        Has("launcher.worker_resources.nvidia.com/gpu: GPUs are requested with gpu_per_worker");
        Has("launcher.gpu_per_worker: must be 0..16, got 99");
        Has("launcher.ranks_per_pod: must be 1..256, got 0");
        Has("launcher.tolerations[0].operator: expected Equal or Exists, got 'Maybe'");
        Has("launcher.tolerations[0].effect: expected NoSchedule, PreferNoSchedule or NoExecute, got 'Sometimes'");
        Has("launcher.queue: is required with pod_group: kueue");
        Has("launcher.pending_deadline: must be 10..86400 seconds, got 1");
        Has("runs_root: must be an absolute path with the Kubernetes launcher");
        Assert.Contains(e.Errors, x => x.Path == "launcher.gpu_per_worker" && x.Line == 6);
    }

    [Fact]
    public void Kubernetes_settings_under_the_local_launcher_and_unknown_kinds_are_refused()
    {
        var local = Assert.Throws<SiloConfigException>(() => SiloConfigLoader.Parse("launcher: {image: x, namespace: y}\n", "silo.yaml"));
        Assert.Contains(local.Errors, x => x.Path == "launcher.image" && x.Message == "applies only to kind: kubernetes (this launcher is local)");
        var kind = Assert.Throws<SiloConfigException>(() => SiloConfigLoader.Parse("launcher: {kind: slurm}\n", "silo.yaml"));
        Assert.Contains(kind.Errors, x => x.Path == "launcher.kind" && x.Message == "expected local or kubernetes, got 'slurm'");
        var typo = Assert.Throws<SiloConfigException>(() => SiloConfigLoader.Parse("launcher: {kind: kubernetes, image: x, namspace: y}\n", "/abs/silo.yaml"));
        Assert.Contains(typo.Errors, x => x.Path == "launcher.namspace" && x.Message.Contains("did you mean 'namespace'", StringComparison.Ordinal));
    }

    [Fact]
    public void With_tls_the_worker_pods_need_the_secret_and_without_tls_a_secret_is_refused()
    {
        const string Tls = "tls: {certificate: /c.pem, key: /k.pem, ca: /ca.pem}\n";
        var missing = Assert.Throws<SiloConfigException>(() => SiloConfigLoader.Parse("runs_root: /runs\n" + Tls + "launcher: {kind: kubernetes, image: x}\n", "silo.yaml"));
        Assert.Contains(missing.Errors, x => x.Path == "launcher.tls_secret" && x.Message.StartsWith("is required with tls", StringComparison.Ordinal));
        var stray = Assert.Throws<SiloConfigException>(() => SiloConfigLoader.Parse("runs_root: /runs\nlauncher: {kind: kubernetes, image: x, tls_secret: s}\n", "silo.yaml"));
        Assert.Contains(stray.Errors, x => x.Path == "launcher.tls_secret" && x.Message.Contains("no tls section", StringComparison.Ordinal));
        var badName = Assert.Throws<SiloConfigException>(() => SiloConfigLoader.Parse("runs_root: /runs\n" + Tls + "launcher: {kind: kubernetes, image: x, tls_secret: Not_A_Name}\n", "silo.yaml"));
        Assert.Contains(badName.Errors, x => x.Path == "launcher.tls_secret" && x.Message == "expected a Secret name, got 'Not_A_Name'");
        var local = Assert.Throws<SiloConfigException>(() => SiloConfigLoader.Parse(Tls + "launcher: {tls_secret: s}\n", "silo.yaml"));
        Assert.Contains(local.Errors, x => x.Path == "launcher.tls_secret" && x.Message == "applies only to kind: kubernetes (this launcher is local)");
    }

    [Fact]
    public void Up_with_the_kubernetes_launcher_and_a_missing_kubeconfig_exits_2_naming_it_before_anything_starts()
    {
        using var dir = new TempDirectory();
        var kubeconfig = dir.File("no-kubeconfig");
        var config = dir.File("silo.yaml");
        File.WriteAllText(config, $"runs_root: {dir.Path}\nmetrics_port: 0\nlauncher: {{kind: kubernetes, image: reg/w:1, kubeconfig: {kubeconfig}}}\n");

        var result = CliRunner.Run(dir.Path, ["up", "--config", config], TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains($"launcher.kubeconfig {kubeconfig} does not exist", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Output, StringComparison.Ordinal);
    }
}
