using k8s.Models;
using Orchestrator.Scheduler.Kubernetes;
using Orchestrator.Scheduler.Launchers;

namespace Orchestrator.Tests.Kubernetes;

/// <summary>
/// The Kubernetes launcher through the real KubernetesClient against <see cref="KubernetesApiStandIn"/> (a loopback stand-in,
/// NOT an API server; the tests play the kubelet). What is a stand-in besides: <c>mpiexec</c> (a <see cref="RecordingHydra"/> that
/// records the hosts it is given and exits when told) and node registration (a pod counts as a registered node once it is
/// Ready). Real: the launcher, its pod manifests, watch loop and error handling, the HTTP client and its watch parser.
/// </summary>
public sealed class KubernetesLauncherTests : IDisposable
{
    private const string Ns = "orchestrator";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30); // an outcome's upper bound on a loaded machine, not a timing assert

    private readonly TempDirectory dir = new();
    private readonly KubernetesApiStandIn api = new(Ns);
    private readonly RecordingHydra hydra = new();

    public void Dispose()
    {
        api.Dispose();
        dir.Dispose();
    }

    private KubernetesLauncher Launcher(int ranksPerPod = 1, int gpus = 0, TimeSpan? pendingDeadline = null, string ns = Ns)
    {
        var options = new KubernetesLauncherOptions
        {
            Namespace = ns, Image = "registry.example/orchestrator-worker:1", RanksPerPod = ranksPerPod, GpusPerWorker = gpus,
            PendingDeadline = pendingDeadline ?? TimeSpan.FromMinutes(5), RunsMountPath = dir.Path,
            Kubeconfig = api.WriteKubeconfig(dir.File("kubeconfig")),
        };
        return new KubernetesLauncher(options, KubernetesConnection.Connect(options), hydra, new ReadyPodNodes(api, ns), "10.0.0.1");
    }

    private LaunchRequest Request(string job, int workers, string device = "cpu")
    {
        var run = Path.Combine(dir.Path, job);
        Directory.CreateDirectory(run);
        var spec = Path.Combine(run, "job.yaml");
        File.WriteAllText(spec, $"name: {job}\ndevice: {device}\nworkers: {workers}\ndata: {{dataset: synthetic}}\ntraining: {{global_batch: {workers * 8}}}\n");
        return new LaunchRequest(job, workers, spec, run, []);
    }

    /// <summary>The kubelet: every new pod runs at 127.0.0.N.</summary>
    private void RunEveryPod()
    {
        var next = 1;
        api.OnPodCreated = pod => api.UpdatePod(Ns, pod.Metadata.Name, p => KubernetesApiStandIn.Run(p, $"127.0.0.{Interlocked.Increment(ref next)}"));
    }

    private static async Task<int> ExitOf(ILaunchedJob job) => await job.Exited.WaitAsync(Patience);

    [Fact]
    public async Task A_launch_creates_owner_service_and_pods_then_starts_hydra_over_them_and_release_deletes_everything()
    {
        RunEveryPod();
        var launcher = Launcher(ranksPerPod: 2, gpus: 1);
        var job = launcher.Launch(Request("fmnist", 3, device: "cuda"));
        var started = await hydra.Started.WaitAsync(Patience);

        Assert.Equal(["fmnist-workers"], api.Names("configmaps"));
        Assert.Equal(["fmnist-workers"], api.Names("services"));
        Assert.Equal(["fmnist-w0", "fmnist-w1"], api.Names("pods"));
        var owner = api.Get<V1ConfigMap>("configmaps", Ns, "fmnist-workers")!;
        foreach (var name in api.Names("pods"))
        {
            var pod = api.Get<V1Pod>("pods", Ns, name)!;
            Assert.Equal(owner.Metadata.Uid, Assert.Single(pod.Metadata.OwnerReferences).Uid);
        }
        Assert.Equal(owner.Metadata.Uid, Assert.Single(api.Get<V1Service>("services", Ns, "fmnist-workers")!.Metadata.OwnerReferences).Uid);
        Assert.Equal("2", api.Get<V1Pod>("pods", Ns, "fmnist-w0")!.Spec.Containers[0].Resources.Limits[WorkerManifests.GpuResource].ToString());
        Assert.Equal("1", api.Get<V1Pod>("pods", Ns, "fmnist-w1")!.Spec.Containers[0].Resources.Limits[WorkerManifests.GpuResource].ToString());

        var hosts = started;
        Assert.Equal("10.0.0.1", hosts.LocalAddress);
        Assert.Equal([("fmnist-w0", 2), ("fmnist-w1", 1)], hosts.Hosts.Select(h => (h.Node, h.Ranks)));
        Assert.Equal(api.Get<V1Pod>("pods", Ns, "fmnist-w1")!.Status.PodIP, hosts.Hosts[1].Address);

        hydra.Exit(0);
        Assert.Equal(0, await ExitOf(job));
        Assert.NotEmpty(api.Names("pods")); // kept for a relaunch until the job ends
        await launcher.ReleaseAsync("fmnist");
        Assert.Empty(api.Names("pods"));
        Assert.Empty(api.Names("services"));
        Assert.Empty(api.Names("configmaps"));
        AssertOnlyGrantedVerbs();
    }

    [Fact]
    public async Task A_pod_that_fails_while_the_gang_runs_ends_it_with_the_cause_in_the_log()
    {
        RunEveryPod();
        var launcher = Launcher();
        var request = Request("oom", 2);
        var job = launcher.Launch(request);
        await hydra.Started.WaitAsync(Patience);
        api.UpdatePod(Ns, "oom-w1", p =>
        {
            p.Status.Phase = "Failed";
            p.Status.ContainerStatuses[0].State = new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = 137, Reason = "OOMKilled" } };
        });
        Assert.Equal(1, await ExitOf(job)); // retryable: a new pod may fit
        Assert.True(hydra.Killed, "mpiexec must be stopped when a pod of its gang fails");
        Assert.Equal("kubernetes: worker pod oom-w1 failed: container worker exited with code 137 (OOMKilled)", LauncherLog.LastErrors(request.LogPath));
    }

    [Fact]
    public async Task An_eviction_and_a_lost_node_are_named()
    {
        RunEveryPod();
        var launcher = Launcher();
        var evicted = Request("evict", 1);
        var job = launcher.Launch(evicted);
        await hydra.Started.WaitAsync(Patience);
        api.UpdatePod(Ns, "evict-w0", p => { p.Status.Phase = "Failed"; p.Status.Reason = "Evicted"; p.Status.Message = "The node was low on resource: memory."; });
        Assert.Equal(1, await ExitOf(job));
        Assert.Equal("kubernetes: worker pod evict-w0 was evicted: The node was low on resource: memory.", LauncherLog.LastErrors(evicted.LogPath));

        hydra.Reset();
        var lost = Request("lost", 1);
        job = launcher.Launch(lost);
        await hydra.Started.WaitAsync(Patience);
        api.RemovePod(Ns, "lost-w0");
        Assert.Equal(1, await ExitOf(job));
        Assert.Contains("worker pod lost-w0 was deleted (node lost", LauncherLog.LastErrors(lost.LogPath), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_image_that_cannot_be_pulled_fails_the_launch_as_a_config_error_naming_the_image()
    {
        api.OnPodCreated = pod => api.UpdatePod(Ns, pod.Metadata.Name, p => p.Status.ContainerStatuses =
            [new V1ContainerStatus { Name = "worker", Image = p.Spec.Containers[0].Image, State = new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = "ImagePullBackOff", Message = "Back-off pulling image" } } }]);
        var request = Request("pull", 1);
        var job = Launcher().Launch(request);
        Assert.Equal(2, await ExitOf(job)); // a user error: retrying pulls the same image
        Assert.False(hydra.Started.IsCompleted);
        Assert.Equal("kubernetes: worker pod pull-w0 cannot pull image registry.example/orchestrator-worker:1: ImagePullBackOff: Back-off pulling image",
            LauncherLog.LastErrors(request.LogPath));
    }

    [Fact]
    public async Task A_pod_pending_past_the_deadline_for_lack_of_gpus_fails_with_the_schedulers_reason()
    {
        api.OnPodCreated = pod => api.UpdatePod(Ns, pod.Metadata.Name, p => p.Status.Conditions =
            [new V1PodCondition { Type = "PodScheduled", Status = "False", Reason = "Unschedulable", Message = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu." }]);
        var request = Request("nogpu", 1, device: "cuda");
        var job = Launcher(gpus: 1, pendingDeadline: TimeSpan.FromSeconds(1)).Launch(request);
        Assert.Equal(1, await ExitOf(job));
        var reason = LauncherLog.LastErrors(request.LogPath)!;
        Assert.Contains("worker pod nogpu-w0 is not ready after 1 s (launcher.pending_deadline)", reason, StringComparison.Ordinal);
        Assert.Contains("Unschedulable: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu.", reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task After_410_Gone_the_watch_lists_again_and_sees_what_happened_meanwhile()
    {
        var launcher = Launcher();
        var request = Request("gone", 1);
        var job = launcher.Launch(request);
        await WaitFor(() => api.Requests.Contains(("watch", "pods")));
        var listsBefore = api.Requests.Count(r => r == ("list", "pods"));
        api.Compact();
        api.CloseWatches(); // the re-watch from the old version now gets 410 Gone
        await WaitFor(() => api.Requests.Count(r => r == ("list", "pods")) > listsBefore);
        api.UpdatePod(Ns, "gone-w0", p => KubernetesApiStandIn.Run(p, "127.0.0.9"));
        var started = await hydra.Started.WaitAsync(Patience);
        Assert.Equal("127.0.0.9", Assert.Single(started.Hosts).Address);
        hydra.Exit(0);
        Assert.Equal(0, await ExitOf(job));
        Assert.DoesNotContain("error", File.ReadAllText(request.LogPath), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancel_while_pods_start_kills_the_launch_and_release_leaves_nothing()
    {
        var launcher = Launcher();
        var job = launcher.Launch(Request("cancel", 3));
        await WaitFor(() => api.Names("pods").Count == 3);
        Assert.Equal(137, await job.KillAsync().WaitAsync(Patience));
        Assert.False(hydra.Started.IsCompleted);
        await launcher.ReleaseAsync("cancel");
        Assert.Empty(api.Names("pods"));
        Assert.Empty(api.Names("services"));
        Assert.Empty(api.Names("configmaps"));
    }

    [Fact]
    public async Task Rescale_keeps_the_pods_still_needed_and_adds_or_deletes_the_difference()
    {
        RunEveryPod();
        var launcher = Launcher();
        var job = launcher.Launch(Request("scale", 4));
        await hydra.Started.WaitAsync(Patience);
        var uids = api.Names("pods").ToDictionary(n => n, n => api.Get<V1Pod>("pods", Ns, n)!.Metadata.Uid);
        await job.KillAsync();

        hydra.Reset();
        job = launcher.Launch(Request("scale", 2));
        Assert.Equal(2, (await hydra.Started.WaitAsync(Patience)).Hosts.Count);
        Assert.Equal(["scale-w0", "scale-w1"], api.Names("pods"));
        Assert.All(api.Names("pods"), n => Assert.Equal(uids[n], api.Get<V1Pod>("pods", Ns, n)!.Metadata.Uid)); // kept, not recreated
        await job.KillAsync();

        hydra.Reset();
        job = launcher.Launch(Request("scale", 3));
        Assert.Equal(3, (await hydra.Started.WaitAsync(Patience)).Hosts.Count);
        Assert.Equal(["scale-w0", "scale-w1", "scale-w2"], api.Names("pods"));
        Assert.NotEqual(uids["scale-w2"], api.Get<V1Pod>("pods", Ns, "scale-w2")!.Metadata.Uid);
        await job.KillAsync();
        await launcher.ReleaseAsync("scale");
        Assert.Empty(api.Names("pods"));
    }

    [Fact]
    public async Task A_failed_pod_is_replaced_by_the_next_launch()
    {
        RunEveryPod();
        var launcher = Launcher();
        var job = launcher.Launch(Request("again", 1));
        await hydra.Started.WaitAsync(Patience);
        var first = api.Get<V1Pod>("pods", Ns, "again-w0")!.Metadata.Uid;
        api.UpdatePod(Ns, "again-w0", p => { p.Status.Phase = "Failed"; p.Status.Reason = "Evicted"; });
        Assert.Equal(1, await ExitOf(job));
        hydra.Reset();
        var request = Request("again", 1);
        job = launcher.Launch(request);
        await hydra.Started.WaitAsync(Patience);
        Assert.NotEqual(first, api.Get<V1Pod>("pods", Ns, "again-w0")!.Metadata.Uid);
        Assert.Null(LauncherLog.LastErrors(request.LogPath)); // the first launch's failure is not this one's
        hydra.Exit(0);
        Assert.Equal(0, await ExitOf(job));
    }

    [Fact]
    public async Task Rbac_forbidden_is_a_config_error_naming_the_verb_and_the_role()
    {
        api.Forbid("create", "pods");
        var request = Request("denied", 1);
        Assert.Equal(2, await ExitOf(Launcher().Launch(request)));
        var reason = LauncherLog.LastErrors(request.LogPath)!;
        Assert.StartsWith("kubernetes: Kubernetes forbids the launcher to create pods in namespace orchestrator (403 Forbidden: pods is forbidden", reason, StringComparison.Ordinal);
        Assert.Contains("orchestrator-launcher", File.ReadAllText(request.LogPath), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_namespace_that_does_not_exist_is_named()
    {
        var request = Request("nons", 1);
        Assert.Equal(2, await ExitOf(Launcher(ns: "nope").Launch(request)));
        Assert.StartsWith("kubernetes: namespace nope does not exist (launcher.namespace)", LauncherLog.LastErrors(request.LogPath), StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_credentials_are_named()
    {
        var missing = dir.File("no-such-kubeconfig");
        var configured = Assert.Throws<KubernetesLauncherException>(() => KubernetesConnection.Configuration(missing, null, dir.File("home-config")));
        Assert.Equal($"launcher.kubeconfig {missing} does not exist (leave it out to use the pod's service account)", configured.Message);
        if (k8s.KubernetesClientConfiguration.IsInCluster()) return; // inside a pod the service account is the fallback
        var none = Assert.Throws<KubernetesLauncherException>(() => KubernetesConnection.Configuration(null, null, dir.File("home-config")));
        Assert.StartsWith("no Kubernetes credentials: not in a pod with a service account", none.Message, StringComparison.Ordinal);
        Assert.Contains(dir.File("home-config"), none.Message, StringComparison.Ordinal);
        var env = Assert.Throws<KubernetesLauncherException>(() => KubernetesConnection.Configuration(null, missing, dir.File("home-config")));
        Assert.Equal($"$KUBECONFIG names {missing}, which does not exist", env.Message);
        File.WriteAllText(dir.File("bad"), "this: [is not a kubeconfig");
        var bad = Assert.Throws<KubernetesLauncherException>(() => KubernetesConnection.Configuration(dir.File("bad"), null, dir.File("home-config")));
        Assert.StartsWith($"kubeconfig {dir.File("bad")} (launcher.kubeconfig) is not usable", bad.Message, StringComparison.Ordinal);
    }

    /// <summary>Every call the launcher made is one rbac.yaml grants (<see cref="KubernetesApiVerbs.Used"/>).</summary>
    private void AssertOnlyGrantedVerbs()
    {
        foreach (var (verb, resource) in api.Requests.Distinct())
            Assert.True(KubernetesApiVerbs.Used.TryGetValue(resource, out var verbs) && verbs.Contains(verb), $"the launcher called {verb} {resource}, which KubernetesApiVerbs does not list");
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        using var limit = new CancellationTokenSource(Patience);
        while (!condition()) await Task.Delay(20, limit.Token);
    }

    /// <summary>Node registration stand-in: a pod is a live node at its IP once it is Ready.</summary>
    private sealed class ReadyPodNodes(KubernetesApiStandIn api, string ns) : IWorkerNodeDirectory
    {
        public Task<string?> LiveAddressAsync(string node) => Task.FromResult(api.Get<V1Pod>("pods", ns, node) is { Status: { Phase: "Running", PodIP: { } ip } } ? ip : null);
    }

    /// <summary>mpiexec stand-in: records the request it is given; exits when the test says, or when killed (137).</summary>
    private sealed class RecordingHydra : IJobLauncher
    {
        private TaskCompletionSource<GangHosts> started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource<int> exit = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<GangHosts> Started => started.Task;

        public bool Killed { get; private set; }

        public void Exit(int code) => exit.TrySetResult(code);

        public void Reset()
        {
            started = new(TaskCreationOptions.RunContinuationsAsynchronously);
            exit = new(TaskCreationOptions.RunContinuationsAsynchronously);
            Killed = false;
        }

        public ILaunchedJob Launch(LaunchRequest request)
        {
            var gang = new Gang(this, exit);
            started.TrySetResult(request.Hosts!);
            return gang;
        }

        private sealed class Gang(RecordingHydra owner, TaskCompletionSource<int> exit) : ILaunchedJob
        {
            public int ProcessId => 4242;

            public Task<int> Exited => exit.Task;

            public Task<int> KillAsync()
            {
                owner.Killed = true;
                exit.TrySetResult(137);
                return exit.Task;
            }

            public void Dispose() { }
        }
    }
}
