using Orchestrator.Contracts.Grains;
using Orchestrator.Contracts.Models;
using Orchestrator.Scheduler.Launchers;
using Orchestrator.Scheduler.Lifecycle;
using Orchestrator.Spec;

namespace Orchestrator.Scheduler.Grains;

/// <summary>
/// How the job grain carries out <see cref="JobEffect"/>s: storage, the scheduler grain, the runner (this silo's gangs),
/// adopted gangs (started by a silo that died: watched through the exit-code file their supervisor writes, see
/// <see cref="GangSupervisor"/>), timers and the reminder that reactivates an unfinished job's grain after its silo died.
/// No decisions here.
/// </summary>
public sealed partial class JobGrain
{
    /// <summary>The reminder that reactivates the grain of an unfinished job after its silo died.</summary>
    public const string WatchReminder = "job-watch";

    private static readonly TimeSpan WatchReminderPeriod = TimeSpan.FromMinutes(1);

    private readonly List<SlotGrant> granted = [];
    private IGrainTimer? watchTimer;
    private bool adopted; // the current gang was started by another silo (no watcher here)

    private ISchedulerGrain SchedulerGrain => GrainFactory.GetGrain<ISchedulerGrain>(ISchedulerGrain.DefaultKey);

    private string OutputDirectory => S.OutputDirectory ?? runner.DefaultOutputDirectory(JobId);

    private Task CarryOutAsync(JobEffect effect, JobState decided) => effect switch
    {
        JobEffect.Persist => PersistAsync(decided),
        JobEffect.Register => GrainFactory.GetGrain<IJobRegistryGrain>(IJobRegistryGrain.DefaultKey).AddAsync(JobId),
        JobEffect.RequestSlots request => RequestSlotsAsync(request.Workers),
        JobEffect.ResizeSlots resize => CollectGrantsAsync(SchedulerGrain.ResizeAsync(JobId, resize.Workers)),
        JobEffect.ReleaseSlots => ReleaseSlotsAsync(),
        JobEffect.StartGang start => StartGangAsync(start),
        JobEffect.KillGang kill => KillGangAsync(kill.Launch),
        JobEffect.WatchGang watch => Watch(watch.Adopted),
        JobEffect.StopWatch => StopWatch(),
        JobEffect.EnsureReminder => EnsureWatchReminderAsync(),
        JobEffect.ScheduleRelaunch relaunch => ScheduleRelaunch(relaunch),
        _ => throw new ArgumentOutOfRangeException(nameof(effect), effect, "unknown job effect"),
    };

    private async Task PersistAsync(JobState decided)
    {
        // A lost record (Redis restarted empty) is written back; the registry may have lost the job's name with it.
        if (await StateWriteBack.WriteAsync(state, decided, $"job '{JobId}'"))
            await GrainFactory.GetGrain<IJobRegistryGrain>(IJobRegistryGrain.DefaultKey).AddAsync(JobId);
    }

    /// <summary>Granted: launch; queued: stay Pending (the releasing job starts it); refused: Failed.</summary>
    private async Task RequestSlotsAsync(int workers)
    {
        AdmissionResult admission;
        try
        {
            admission = await SchedulerGrain.EnqueueAsync(JobId, workers, S.Placement);
        }
        catch (ArgumentException e)
        {
            await ApplyAsync(new JobEvent.NotAdmitted(e.Message));
            return;
        }
        if (admission.Outcome == AdmissionOutcome.Granted)
            await ApplyAsync(new JobEvent.SlotsGranted());
    }

    /// <summary>The job ended: its slots go back to the scheduler and its launcher resources (Kubernetes worker pods) are deleted.</summary>
    private async Task ReleaseSlotsAsync()
    {
        await CollectGrantsAsync(SchedulerGrain.ReleaseAsync(JobId));
        await runner.ReleaseAsync(JobId);
    }

    private async Task CollectGrantsAsync(Task<System.Collections.Immutable.ImmutableArray<SlotGrant>> grants) => granted.AddRange(await grants);

    /// <summary>Starts the queued jobs the scheduler granted slots to (after this job's own state is stored).</summary>
    private async Task StartGrantedJobsAsync()
    {
        while (granted.Count > 0)
        {
            var grant = granted[0];
            granted.RemoveAt(0);
            try
            {
                await GrainFactory.GetGrain<IJobGrain>(grant.JobId).SlotsGrantedAsync();
            }
            catch (InvalidOperationException)
            {
                // The queued job was cancelled meanwhile; its own cancel releases the slots again.
            }
        }
    }

    private async Task StartGangAsync(JobEffect.StartGang start)
    {
        var jobId = JobId;
        var factory = GrainFactory;
        var launch = start.Launch;
        int pid;
        try
        {
            var placed = await SchedulerGrain.PlaceAnewIfDisplacedAsync(jobId, ShrinkCandidates());
            granted.AddRange(placed.Started);
            if (placed.Grant is null)
            {
                await ApplyAsync(new JobEvent.WaitingForCapacity(placed.Shortfall ?? "the live nodes cannot hold the gang now"));
                return;
            }
            if (placed.Grant.Workers < start.Workers)
            {
                await ApplyAsync(new JobEvent.Shrunk(placed.Grant.Workers, $"the live nodes hold {placed.Grant.Workers} of its {start.Workers} workers (scaling.on_node_loss: shrink)"));
                if (S.Phase != JobPhase.Launching || S.Workers != placed.Grant.Workers) return; // cancelled meanwhile
            }
            var hosts = await HostsOfAsync(placed.Grant);
            pid = runner.Start(jobId, placed.Grant.Workers, S.SpecYaml, OutputDirectory, start.ExtraArguments,
                code => factory.GetGrain<IJobGrain>(jobId).ReportLaunchExitAsync(launch, code), launch, hosts);
        }
        catch (Exception e) when (e is LaunchException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            await ApplyAsync(new JobEvent.LaunchFailed(launch, e.Message));
            return;
        }
        await ApplyAsync(new JobEvent.GangStarted(launch, pid, runner.LocalNodeName));
    }

    /// <summary>The smaller gangs a node loss may shrink this job to (largest first), as its spec allows; none unless it opted in.</summary>
    private int[]? ShrinkCandidates() => S.ShrinkFloor is int floor
        ? [.. Enumerable.Range(floor, Math.Max(0, S.Workers - floor)).Reverse().Where(w => S.WorkerRule?.Reject(w) is null)]
        : null;

    /// <summary>The nodes of <paramref name="grant"/> with their addresses, in rank order; null on a cluster without registered nodes.</summary>
    private async Task<IReadOnlyList<HostRanks>?> HostsOfAsync(SlotGrant grant)
    {
        if (grant.Nodes.IsDefaultOrEmpty) return null;
        var snapshot = await SchedulerGrain.GetSnapshotAsync();
        if (snapshot.Nodes.IsDefaultOrEmpty) return null;
        var byName = snapshot.Nodes.ToDictionary(n => n.Node.Name);
        // The implicit node of a cluster without machine nodes (the registered ones are Kubernetes worker pods, not capacity).
        if (grant.Nodes is [{ Node: Admission.GangAdmission.LocalNode }] && !byName.ContainsKey(Admission.GangAdmission.LocalNode)) return null;
        return [.. grant.Nodes.Select(n => byName.TryGetValue(n.Node, out var node)
            ? new HostRanks(n.Node, node.Node.Address, n.Ranks)
            : throw new LaunchException($"the job is placed on node '{n.Node}', which is not registered"))];
    }

    /// <summary>Kills the job's proxies (and ranks) on every other live node: a gang that spans nodes leaves nothing behind.</summary>
    private async Task KillRemoteProxiesAsync()
    {
        SchedulerSnapshot snapshot;
        try { snapshot = await SchedulerGrain.GetSnapshotAsync(); }
        catch (Exception e) when (e is not OperationCanceledException) { return; } // best effort: proxies also die with mpiexec's connection
        foreach (var node in snapshot.Nodes.IsDefault ? [] : snapshot.Nodes.Where(n => n.Alive))
        {
            try { await GrainFactory.GetGrain<INodeAgentGrain>(node.Node.Silo).KillJobAsync(JobId); }
            catch (Exception e) when (e is not OperationCanceledException) { } // that node is going down, or offers no agent
        }
    }

    /// <summary>How long an adopted gang started on another node may go without a heartbeat before it counts as gone.</summary>
    /// <remarks>60 s: the ranks' heartbeats went to the dead silo's gateway, and their client must first learn that it is dead
    /// and move to another gateway; on a loaded 2-core machine that took more than 30 s once (a healthy gang relaunched in
    /// the emulated-cluster test). A gang that died with its node is found by the node's loss first; this is the fallback.</remarks>
    private static readonly TimeSpan AdoptedGangSilence = TimeSpan.FromSeconds(60);

    /// <summary>Asks node <paramref name="node"/>'s agent to kill the gang supervised with <paramref name="exitPath"/> (best effort: a dead node's gang died with it).</summary>
    private async Task KillOnNodeAsync(string node, string exitPath)
    {
        try
        {
            var snapshot = await SchedulerGrain.GetSnapshotAsync();
            if (snapshot.Nodes.IsDefault || snapshot.Nodes.FirstOrDefault(n => n.Node.Name == node && n.Alive) is not { } live) return;
            await GrainFactory.GetGrain<INodeAgentGrain>(live.Node.Silo).KillGangAsync(exitPath);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Unreachable: the node is going down; its ranks are told to stop by their heartbeat replies.
        }
    }

    /// <summary>Kills launch <paramref name="launch"/>'s gang: through its supervisor when adopted (on the node that started it), and this silo's process group.</summary>
    private async Task KillGangAsync(int launch)
    {
        if (adopted)
        {
            adopted = false;
            var exitPath = RunLayout.LaunchExitCode(OutputDirectory, launch);
            if (S.LaunchNode is { } node && node != runner.LocalNodeName) await KillOnNodeAsync(node, exitPath);
            else AdoptedGang.Kill(exitPath);
        }
        await runner.StopAsync(JobId); // the whole process group; a killed gang's exit is not reported
        await KillRemoteProxiesAsync();
    }

    private Task Watch(bool adoptedGang)
    {
        StopWatch();
        adopted = adoptedGang;
        progress.Restart(Now);
        if (adopted || S.StallTimeout is not null)
        {
            var period = GangProgress.WatchPeriod(S.StallTimeout);
            watchTimer = this.RegisterGrainTimer(async _ => await ApplyAsync(new JobEvent.WatchTick(progress.Progress, adopted ? await ReadAdoptedGangAsync() : null)),
                new GrainTimerCreationOptions(period, period) { KeepAlive = true });
        }
        return Task.CompletedTask;
    }

    private Task StopWatch()
    {
        watchTimer?.Dispose();
        watchTimer = null;
        adopted = false;
        return Task.CompletedTask;
    }

    /// <summary>What the ended gang leaves to judge it by: whether it trained, and its workers' last error lines.</summary>
    private GangExitDetail ExitDetail() =>
        new(progress.Advanced, OutputDirectory is null ? null : LauncherLog.LastErrors(RunLayout.LauncherLog(OutputDirectory)));

    /// <summary>
    /// What the adopted gang's files say: its recorded exit code (shared storage), alive, or gone without one. Alive is read
    /// from this machine's processes when the gang was started here (or on a cluster without nodes); a gang started on another
    /// node is alive while its ranks heartbeat (that node's silo may be the one that died, so it cannot be asked).
    /// </summary>
    private async Task<AdoptedGangReport> ReadAdoptedGangAsync()
    {
        var exitPath = RunLayout.LaunchExitCode(OutputDirectory, S.Launches);
        if (S.LaunchNode is { } node && node != runner.LocalNodeName)
        {
            if (GangSupervisor.ReadExitCode(exitPath) is int remoteCode) return new AdoptedGangReport.Exited(remoteCode, ExitDetail());
            var last = progress.Newest?.ReceivedAt ?? progress.LaunchedAt;
            if (Now - last < AdoptedGangSilence) return new AdoptedGangReport.Alive();
            await KillOnNodeAsync(node, exitPath); // its silo may be alive (the grain moved for another reason): leave nothing
            return new AdoptedGangReport.Vanished();
        }
        var code = GangSupervisor.ReadExitCode(exitPath);
        if (code is null && !AdoptedGang.IsAlive(exitPath))
            code = GangSupervisor.ReadExitCode(exitPath); // it may have written the code just now
        if (code is int exitCode) return new AdoptedGangReport.Exited(exitCode, ExitDetail());
        return AdoptedGang.IsAlive(exitPath) ? new AdoptedGangReport.Alive() : new AdoptedGangReport.Vanished();
    }

    private Task ScheduleRelaunch(JobEffect.ScheduleRelaunch relaunch)
    {
        var delay = relaunch.At - Now;
        this.RegisterGrainTimer(_ =>
        {
            if (relaunch.KillStrayLaunch is int stray && S.Phase == JobPhase.Launching)
                AdoptedGang.Kill(RunLayout.LaunchExitCode(OutputDirectory, stray)); // started, but Running never stored
            return ApplyAsync(new JobEvent.RelaunchDue(runner.IsRunning(JobId)));
        }, new GrainTimerCreationOptions(delay > TimeSpan.Zero ? delay : TimeSpan.Zero, Timeout.InfiniteTimeSpan) { KeepAlive = true });
        return Task.CompletedTask;
    }

    private async Task EnsureWatchReminderAsync()
    {
        try
        {
            await this.RegisterOrUpdateReminder(WatchReminder, WatchReminderPeriod, WatchReminderPeriod);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A silo without a reminder service (bare test silos): failover then relies on calls (heartbeats, status).
        }
    }

    /// <inheritdoc />
    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != WatchReminder) return;
        // Being active is the point (activation resumed the watch); a final job needs no more reminders.
        if (!S.Submitted || JobTransitions.IsTerminal(S.Phase))
        {
            try
            {
                if (await this.GetReminder(WatchReminder) is { } reminder)
                    await this.UnregisterReminder(reminder);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Gone already, or the reminder table is unreachable: the next tick tries again.
            }
        }
    }
}
