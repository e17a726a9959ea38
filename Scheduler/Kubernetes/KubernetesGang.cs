using System.Globalization;
using Orchestrator.Scheduler.Launchers;
using Orchestrator.Scheduler.Lifecycle;
using Orchestrator.Spec;

namespace Orchestrator.Scheduler.Kubernetes;

/// <summary>
/// One launch of a job through the Kubernetes launcher, from the worker pods to the gang's exit: (1) owner, Service and pods
/// made to match the gang; (2) the pods watched until each runs with a ready silo that registered its node; (3) <c>mpiexec</c>
/// started over them (Hydra, as on bare machines); (4) the gang's exit awaited while the watch goes on. A pod that fails at
/// any point ends the launch: its cause goes to the job's log as an <c>error: kubernetes: ...</c> line (the job's failure
/// reason) and the exit code says whether a retry may help (1) or the config must change (2, <see cref="ExitCause.UserError"/>).
/// Killing it (cancel, rescale, restart) stops <c>mpiexec</c> and leaves the pods to the next launch or the job's release.
/// </summary>
internal sealed class KubernetesGang : ILaunchedJob
{
    /// <summary>The code of a launch that was killed (SIGKILL, as a killed process group reports).</summary>
    private const int KilledCode = 137;

    private static readonly TimeSpan Poll = TimeSpan.FromSeconds(1);

    private readonly WorkerPods pods;
    private readonly KubernetesLauncherOptions options;
    private readonly IJobLauncher hydra;
    private readonly IWorkerNodeDirectory nodes;
    private readonly string localAddress;
    private readonly TimeProvider clock;
    private readonly LaunchRequest request;
    private readonly TaskCompletionSource<int> exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource stop = new();
    private readonly Lock gate = new();
    private ILaunchedJob? gang;
    private Task? run;

    private KubernetesGang(WorkerPods pods, KubernetesLauncherOptions options, IJobLauncher hydra, IWorkerNodeDirectory nodes, string localAddress,
        TimeProvider clock, LaunchRequest request)
    {
        this.pods = pods;
        this.options = options;
        this.hydra = hydra;
        this.nodes = nodes;
        this.localAddress = localAddress;
        this.clock = clock;
        this.request = request;
    }

    /// <summary>Starts the launch in the background and returns its handle at once (pods take seconds to minutes).</summary>
    public static KubernetesGang Start(WorkerPods pods, KubernetesLauncherOptions options, IJobLauncher hydra, IWorkerNodeDirectory nodes, string localAddress,
        TimeProvider clock, LaunchRequest request)
    {
        var launched = new KubernetesGang(pods, options, hydra, nodes, localAddress, clock, request);
        Directory.CreateDirectory(Path.GetDirectoryName(request.LogPath)!);
        launched.run = Task.Run(launched.RunAsync);
        return launched;
    }

    /// <summary>The <c>mpiexec</c> process once started; 0 while the pods come up.</summary>
    public int ProcessId
    {
        get { lock (gate) return gang?.ProcessId ?? 0; }
    }

    /// <inheritdoc />
    public Task<int> Exited => exited.Task;

    /// <inheritdoc />
    public async Task<int> KillAsync()
    {
        await stop.CancelAsync().ConfigureAwait(false);
        ILaunchedJob? started;
        lock (gate) started = gang;
        if (started is not null) await started.KillAsync().ConfigureAwait(false);
        if (run is not null) await run.ConfigureAwait(false);
        return await exited.Task.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        stop.Cancel();
        lock (gate) gang?.Dispose();
    }

    private async Task RunAsync()
    {
        int code;
        try
        {
            code = await LaunchAndWatchAsync(stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            code = KilledCode;
        }
        catch (KubernetesLauncherException e)
        {
            Log($"error: kubernetes: {e.Message}");
            code = e.Retryable ? 1 : ExitCause.UserError;
        }
        catch (Exception e) when (e is LaunchException or IOException or UnauthorizedAccessException or UserFacingException)
        {
            Log($"error: kubernetes: job {request.JobId}: {e.Message}");
            code = 1;
        }
        catch (Exception e) when (!stop.IsCancellationRequested)
        {
            // Anything else (an HTTP timeout, a client bug): this runs in the background, and a launch that never reports its end
            // would leave the job Running forever; it fails with what happened instead.
            Log($"error: kubernetes: job {request.JobId}: the launch failed unexpectedly: {e.GetType().Name}: {e.Message}");
            code = 1;
        }
        ILaunchedJob? started;
        lock (gate) started = gang;
        if (started is not null && !started.Exited.IsCompleted)
            await started.KillAsync().ConfigureAwait(false); // a launch that failed after mpiexec started leaves no ranks behind
        if (stop.IsCancellationRequested) code = KilledCode;
        exited.TrySetResult(code);
    }

    private async Task<int> LaunchAndWatchAsync(CancellationToken cancel)
    {
        var plan = WorkerPodPlan.For(request.JobId, request.Workers, options.RanksPerPod);
        var gpus = GpusPerRank();
        // A "launch:" line: the job's failure reason comes from the error lines after the newest one (LauncherLog.LastErrors).
        Log($"# {clock.GetUtcNow():O} launch: kubernetes: job {request.JobId}: {plan.Count} worker pod(s) in namespace {options.Namespace} " +
            $"({string.Join(", ", plan.Select(p => $"{p.Name} {Ranks(p.Ranks)}"))}), image {options.Image}" +
            (gpus > 0 ? $", {gpus} {WorkerManifests.GpuResource} per rank" : ""));
        var owner = await pods.EnsureOwnerAsync(gpus, cancel).ConfigureAwait(false);
        await pods.EnsureServiceAsync(owner, cancel).ConfigureAwait(false);
        var (created, deleted) = await pods.ReconcileAsync(plan, owner, gpus, clock.GetUtcNow(), cancel).ConfigureAwait(false);
        Log($"# kubernetes: pods created: {Names(created)}; deleted: {Names(deleted)}; kept: {Names([.. plan.Select(p => p.Name).Except(created)])}");

        var view = new WorkerPodView();
        using var watchStop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var watch = pods.WatchAsync(view.Replace, view.Apply, e => Log($"# kubernetes: pod watch: {e.Message} (retrying)"), watchStop.Token);
        try
        {
            var hosts = await WaitForNodesAsync(plan, view, watch, cancel).ConfigureAwait(false);
            var spanning = new GangHosts(hosts, localAddress);
            Log($"# kubernetes: every worker pod is a live node; starting the gang through Hydra: {spanning.Describe()}");
            ILaunchedJob started;
            lock (gate)
            {
                cancel.ThrowIfCancellationRequested();
                started = gang = hydra.Launch(request with { Hosts = spanning });
            }
            while (true)
            {
                // Running: no deadline any more; a pod that fails, is evicted or deleted ends the gang.
                if (view.Judge(plan, clock.GetUtcNow(), TimeSpan.MaxValue).Select(v => v.Verdict).OfType<PodVerdict.Failed>().FirstOrDefault() is { } failed)
                {
                    Log($"error: kubernetes: {failed.Reason}");
                    await started.KillAsync().ConfigureAwait(false);
                    return failed.Retryable ? 1 : ExitCause.UserError;
                }
                await Task.WhenAny(started.Exited, view.ChangedOrAfter(Poll, cancel)).ConfigureAwait(false);
                if (started.Exited.IsCompleted) return await started.Exited.ConfigureAwait(false);
                cancel.ThrowIfCancellationRequested();
                await ThrowIfEndedAsync(watch, started).ConfigureAwait(false);
            }
        }
        finally
        {
            await watchStop.CancelAsync().ConfigureAwait(false);
            try { await watch.ConfigureAwait(false); }
            catch (OperationCanceledException) { }
        }
    }

    /// <summary>Waits until every pod of <paramref name="plan"/> is ready and registered as a live node; its hosts in rank order.</summary>
    private async Task<IReadOnlyList<HostRanks>> WaitForNodesAsync(IReadOnlyList<WorkerPod> plan, WorkerPodView view, Task watch, CancellationToken cancel)
    {
        string? lastWait = null;
        while (true)
        {
            var verdicts = view.Judge(plan, clock.GetUtcNow(), options.PendingDeadline);
            if (verdicts.Select(v => v.Verdict).OfType<PodVerdict.Failed>().FirstOrDefault() is { } failed)
                throw new KubernetesLauncherException(failed.Reason, failed.Retryable);
            if (verdicts.All(v => v.Verdict is PodVerdict.Ready))
            {
                var hosts = new List<HostRanks>();
                foreach (var (pod, _) in verdicts)
                {
                    if (await nodes.LiveAddressAsync(pod.Name).ConfigureAwait(false) is not { } address) break;
                    hosts.Add(new HostRanks(pod.Name, address, pod.Ranks));
                }
                if (hosts.Count == plan.Count) return hosts;
            }
            var waiting = string.Join("; ", verdicts.Where(v => v.Verdict is not PodVerdict.Ready).Select(v => $"{v.Pod.Name}: {((PodVerdict.Starting)v.Verdict).What}"));
            if (waiting.Length == 0) waiting = "every pod is ready; waiting for their silos to register as nodes";
            if (waiting != lastWait) Log($"# kubernetes: waiting: {waiting}");
            lastWait = waiting;
            await view.ChangedOrAfter(Poll, cancel).ConfigureAwait(false);
            cancel.ThrowIfCancellationRequested();
            await ThrowIfEndedAsync(watch, null).ConfigureAwait(false);
        }
    }

    /// <summary>The watch ends only when cancelled; one that ended otherwise (an unexpected error) would leave the launch blind: it
    /// fails the launch with that error (stopping <paramref name="started"/> first).</summary>
    private static async Task ThrowIfEndedAsync(Task watch, ILaunchedJob? started)
    {
        if (!watch.IsCompleted) return;
        if (started is not null) await started.KillAsync().ConfigureAwait(false);
        await watch.ConfigureAwait(false);
        throw new KubernetesLauncherException("the pod watch ended unexpectedly", true);
    }

    /// <summary>GPUs per rank: the configured count unless the job runs on the CPU.</summary>
    private int GpusPerRank()
    {
        if (options.GpusPerWorker == 0) return 0;
        try
        {
            return JobSpecLoader.LoadFile(request.SpecPath, [], SpecHost.CoresOnly).Device == DeviceKind.Cpu ? 0 : options.GpusPerWorker;
        }
        catch (UserFacingException)
        {
            return options.GpusPerWorker; // the workers will say what is wrong with the spec
        }
    }

    private static string Ranks(int ranks) => ranks == 1 ? "1 rank" : string.Create(CultureInfo.InvariantCulture, $"{ranks} ranks");

    private static string Names(IReadOnlyList<string> names) => names.Count == 0 ? "none" : string.Join(", ", names);

    /// <summary>Appends a line to the job's launcher log (opened per line: Hydra's output goes to the same file).</summary>
    private void Log(string line)
    {
        try
        {
            using var stream = new FileStream(request.LogPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
            using var writer = new StreamWriter(stream);
            writer.WriteLine(line);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            System.Diagnostics.Trace.TraceWarning($"job '{request.JobId}': cannot write its log: {e.Message}");
        }
    }
}
