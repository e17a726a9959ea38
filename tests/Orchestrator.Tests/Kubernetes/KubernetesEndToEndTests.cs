using System.Collections.Concurrent;
using k8s.Models;
using Orchestrator.Tests.Cli;
using Orchestrator.Tests.ControlPlane;
using Orchestrator.Tests.Observability;

namespace Orchestrator.Tests.Kubernetes;

/// <summary>
/// A job that really trains through the Kubernetes launcher: Redis, a real <c>orchestrator up</c> silo configured with
/// <c>launcher: { kind: kubernetes }</c> and a kubeconfig pointing at <see cref="KubernetesApiStandIn"/> (NOT an API server),
/// whose test kubelet runs each worker pod as a real <c>orchestrator up</c> process with the silo config the launcher put in the
/// pod's ConfigMap. What the kubelet changes, standing in for a pod's own network namespace and host name: its silo ports (all
/// pods share this machine's loopback), <c>node.name</c> (the pod's host name) and the metrics port (off). Real: the launcher,
/// the worker pods' silos registering as nodes of the cluster, Hydra over them, the training, the release of the pods at the end.
/// One pod holds both ranks (loopback is one address, and a node's address is unique), so Hydra's proxies cross no machine here.
/// With mutual TLS the kubelet also mounts the Secret the silo config names (<c>launcher.tls_secret</c>; here: certificate files the
/// test made, at the path the worker config reads), so the pod's silo joins, and its ranks heartbeat, over TLS.
/// </summary>
public sealed class KubernetesEndToEndTests
{
    private const string ClusterId = "k8s-e2e";
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(240);

    [RedisTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_job_trains_on_worker_pods_that_register_as_nodes_and_the_pods_are_deleted_when_it_succeeds(bool tls)
    {
        using var dir = new TempDirectory();
        // The cluster's certificate files, as the user's Secret orchestrator-tls holds them (one silo certificate for every
        // silo and worker, as the tls overlay mounts it).
        var tlsDir = Directory.CreateDirectory(Path.Combine(dir.Path, "tls")).FullName;
        string[] clientTls = [];
        string tlsSection = "", tlsSecret = "";
        if (tls)
        {
            using var authority = Security.TestCertificates.Authority("k8s-e2e-ca");
            using var certificate = Security.TestCertificates.Silo(authority);
            var (crt, key) = Security.TestCertificates.WritePem(certificate, tlsDir, "tls");
            File.WriteAllText(Path.Combine(tlsDir, "ca.crt"), authority.ExportCertificatePem());
            tlsSection = $"tls: {{certificate: \"{crt}\", key: \"{key}\", ca: \"{Path.Combine(tlsDir, "ca.crt")}\"}}";
            tlsSecret = ", tls_secret: orchestrator-tls";
            clientTls = ["--tls-cert", crt, "--tls-key", key, "--tls-ca", Path.Combine(tlsDir, "ca.crt")];
        }
        var launcherDir = Directory.CreateDirectory(Path.Combine(dir.Path, "launcher")).FullName;
        using var redis = RedisServer.Start(dir.Path);
        using var api = new KubernetesApiStandIn("orchestrator");
        var pods = new ConcurrentDictionary<string, UpSilo>();
        var kubeletErrors = new ConcurrentQueue<string>();
        var stopping = new ConcurrentQueue<Task>();
        api.OnPodCreated = pod => Task.Run(() =>
        {
            try
            {
                var name = pod.Metadata.Name;
                var owner = api.Get<V1ConfigMap>("configmaps", "orchestrator", pod.Spec.Volumes.Single(v => v.Name == "config").ConfigMap.Name)!;
                var port = FreePorts.Consecutive(2);
                var yaml = owner.Data["worker.yaml"]
                    .Replace("silo:\n  port: ", $"silo:\n  port: {port}\n  old_port: ", StringComparison.Ordinal)
                    .Replace("  gateway_port: ", $"  gateway_port: {port + 1}\n  old_gateway_port: ", StringComparison.Ordinal)
                    .Replace("metrics_port: 9390", "metrics_port: 0", StringComparison.Ordinal)
                    .Replace("node:\n", $"node:\n  name: {name}\n", StringComparison.Ordinal);
                yaml = string.Join('\n', yaml.Split('\n').Where(l => !l.TrimStart().StartsWith("old_", StringComparison.Ordinal)));
                Assert.Equal(tls, pod.Spec.Volumes.Any(v => v.Name == "tls")); // the Secret is mounted exactly when the cluster uses TLS
                if (pod.Spec.Volumes.SingleOrDefault(v => v.Name == "tls") is { } secret)
                {
                    // The kubelet's secret mount: the worker config reads the files at the mount path.
                    Assert.Equal("orchestrator-tls", secret.Secret.SecretName);
                    yaml = yaml.Replace(Orchestrator.Scheduler.Kubernetes.WorkerManifests.TlsMountPath, tlsDir, StringComparison.Ordinal);
                }
                var podDir = Directory.CreateDirectory(Path.Combine(dir.Path, name)).FullName;
                pods[name] = UpSilo.Start(podDir, yaml, "worker.yaml");
                api.UpdatePod("orchestrator", name, p => KubernetesApiStandIn.Run(p, "127.0.0.1"));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                kubeletErrors.Enqueue(e.ToString());
            }
        });
        api.OnPodDeleted = name =>
        {
            if (pods.TryRemove(name, out var silo)) stopping.Enqueue(Task.Run(silo.Dispose)); // the API answers before the kubelet is done
        };
        try
        {
            var port = FreePorts.Consecutive(2);
            var kubeconfig = api.WriteKubeconfig(Path.Combine(dir.Path, "kubeconfig"));
            using var silo = UpSilo.Start(launcherDir, $$"""
                cluster: {id: {{ClusterId}}, redis: "{{redis.Endpoint}}"}
                silo: {port: {{port}}, gateway_port: {{port + 1}}}
                slots: 2
                runs_root: {{Path.Combine(launcherDir, "runs")}}
                metrics_port: 0
                launcher: {kind: kubernetes, namespace: orchestrator, image: "registry.example/worker:1", ranks_per_pod: 2, kubeconfig: "{{kubeconfig}}", pending_deadline: 120{{tlsSecret}}}
                {{tlsSection}}
                """);
            Assert.True(silo.WaitForOutput("launcher kubernetes: each job's worker pods in namespace orchestrator", TimeSpan.FromSeconds(30)), silo.Output);
            var spec = Path.Combine(dir.Path, "k8s-e2e.yaml");
            File.WriteAllText(spec, ControlPlaneSpecs.Synthetic("k8s-e2e"));
            CliResult Cli(params string[] args) => CliRunner.Run(dir.Path, [.. args, "--silo", silo.Gateway, "--cluster", ClusterId, .. clientTls], Limit);

            var submitted = Cli("submit", spec, "--workers", "2");
            Assert.True(submitted.ExitCode == 0, submitted.ToString());
            var watched = Cli("status", "k8s-e2e", "--watch");
            var log = File.ReadAllText(Path.Combine(launcherDir, "runs", "k8s-e2e", "logs", "launcher.log"));
            Assert.True(watched.ExitCode == 0, $"{watched}\nkubelet: {string.Join('\n', kubeletErrors)}\nlauncher log:\n{log}\nsilo:\n{silo.Output}");

            Assert.Contains("kubernetes: job k8s-e2e: 1 worker pod(s) in namespace orchestrator (k8s-e2e-w0 2 ranks)", log, StringComparison.Ordinal);
            Assert.Contains("every worker pod is a live node; starting the gang through Hydra: k8s-e2e-w0 (127.0.0.1) ranks 0-1", log, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(launcherDir, "runs", "k8s-e2e", "summary.json")), log);
            Assert.Empty(api.Names("pods")); // released at the end: the kubelet stopped the pod's silo
            Assert.Empty(api.Names("services"));
            Assert.Empty(api.Names("configmaps"));
            Assert.Empty(pods);
            Assert.Empty(kubeletErrors);
        }
        finally
        {
            foreach (var (_, pod) in pods) pod.Dispose();
            Task.WaitAll([.. stopping]);
        }
    }
}
