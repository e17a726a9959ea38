using System.Collections.Immutable;
using Orchestrator.Contracts.Models;
using Orchestrator.Scheduler.Launchers;
using Orchestrator.Scheduler.Lifecycle;

namespace Orchestrator.Scheduler.Grains;

/// <summary>
/// Failover of a job grain between silos (Redis storage and reminders): when the job's grain activates on a silo while
/// the job is Running, it re-arms the stall watch; when that silo did not start the gang (its own silo died), the grain
/// <em>adopts</em> the gang: heartbeats keep it alive as before, its end is learned from the exit-code file its supervisor
/// writes (<see cref="GangSupervisor"/>), a gang that vanished without one, or that stalls, is killed and the job restarts
/// here. A reminder reactivates the grain of a job that is not final even when nobody calls it. A job caught in a
/// restart's backoff gets its relaunch timer back.
/// </summary>
public sealed partial class JobGrain : IRemindable
{
    /// <summary>The reminder that reactivates the grain of an unfinished job after its silo died.</summary>
    public const string WatchReminder = "job-watch";

    private static readonly TimeSpan WatchReminderPeriod = TimeSpan.FromMinutes(1);

    // What a gang that vanished without recording its code is reported as (killed, as 128 + SIGKILL).
    private const int KilledExitCode = 137;

    // True while the current launch's gang was started by another silo (no watcher here).
    private bool adopted;

    /// <inheritdoc />
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (runner is not null && S.Submitted)
            ResumeAfterActivation();
        return base.OnActivateAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != WatchReminder) return;
        // Being active is the point (OnActivateAsync resumed the watch); a final job needs no more reminders.
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

    /// <inheritdoc />
    public Task<JobLog> GetLogAsync(int? rank, int tail)
    {
        EnsureSubmitted();
        var directory = S.OutputDirectory ?? runner?.DefaultOutputDirectory(JobId)
            ?? throw new InvalidOperationException($"job '{JobId}' has no run directory on this silo");
        var path = LaunchLogs.PathFor(directory);
        if (!File.Exists(path)) return Task.FromResult(new JobLog(path, [], false));
        var prefix = rank is int r ? $"[{r}] " : null;
        var lines = new Queue<string>();
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        using (var reader = new StreamReader(stream))
        {
            while (reader.ReadLine() is { } line)
            {
                if (prefix is not null)
                {
                    if (!line.StartsWith(prefix, StringComparison.Ordinal)) continue;
                    line = line[prefix.Length..];
                }
                lines.Enqueue(line);
                if (tail > 0 && lines.Count > tail) lines.Dequeue();
            }
        }
        return Task.FromResult(new JobLog(path, [.. lines], true));
    }

    /// <summary>A gang of this silo started (StartWorkersAsync): it is watched here; the reminder covers this silo's death.</summary>
    private async Task AfterGangStartedAsync()
    {
        adopted = false;
        await EnsureWatchReminderAsync();
    }

    private void ResumeAfterActivation()
    {
        if (S.Phase is JobPhase.Running or JobPhase.Rescaling)
        {
            adopted = !runner!.IsRunning(JobId);
            lastHeartbeat = null;
            launchedAt = Now; // the stall clock restarts with the startup grace: heartbeats resume within seconds
            StopStallTimer();
            var period = S.StallTimeout is { } stall ? TimeSpan.FromSeconds(Math.Clamp(stall.TotalSeconds / 4, 0.25, 1)) : TimeSpan.FromSeconds(1);
            stallTimer = this.RegisterGrainTimer(_ => WatchAsync(), new GrainTimerCreationOptions(period, period) { KeepAlive = true });
        }
        else if (S.Phase == JobPhase.Launching && !runner!.IsRunning(JobId))
        {
            // A launch (or a restart waiting for its backoff) was under way on a silo that died: relaunch here when due.
            var delay = (S.NextLaunchNotBefore ?? Now) - Now;
            this.RegisterGrainTimer(_ => RelaunchAdoptedAsync(),
                new GrainTimerCreationOptions(delay > TimeSpan.Zero ? delay : TimeSpan.Zero, Timeout.InfiniteTimeSpan) { KeepAlive = true });
        }
    }

    /// <summary>The stall watch, plus, for an adopted gang, its end (exit-code file) and its disappearance.</summary>
    private async Task WatchAsync()
    {
        if (!adopted)
        {
            await CheckStallAsync();
            return;
        }
        if (JobTransitions.IsTerminal(S.Phase) || S.Phase is not (JobPhase.Running or JobPhase.Rescaling))
        {
            // Ended here meanwhile (cancel kills the adopted gang itself), or relaunched: nothing left to adopt.
            adopted = false;
            StopStallTimer();
            return;
        }
        var exitPath = LaunchLogs.ExitCodePathFor(OutputDirectory, S.Launches);
        var code = GangSupervisor.ReadExitCode(exitPath);
        if (code is null && !AdoptedGang.IsAlive(exitPath))
            code = GangSupervisor.ReadExitCode(exitPath); // it may have written the code just now
        if (code is int exitCode)
        {
            adopted = false;
            StopStallTimer();
            await ReportLaunchExitAsync(S.Launches, exitCode);
            return;
        }
        if (!AdoptedGang.IsAlive(exitPath))
        {
            adopted = false;
            StopStallTimer();
            if (S.Phase != JobPhase.Running)
            {
                await ReportLaunchExitAsync(S.Launches, KilledExitCode); // a rescale's stop: the relaunch follows as usual
                return;
            }
            var status = await RecordFailureAsync("workers lost with their silo (no exit code recorded)");
            await AfterFailureAsync(status);
            return;
        }
        if (S.Phase == JobPhase.Running && S.StallTimeout is { } stall)
        {
            var deadline = lastHeartbeat is { } beat ? beat.LastProgressAt + stall : launchedAt + (stall > StartupGrace ? stall : StartupGrace);
            if (Now >= deadline)
            {
                AdoptedGang.Kill(exitPath); // the runner here cannot stop a gang it did not start
                adopted = false;
                await CheckStallAsync(); // records the stall and restarts (or fails) the job
            }
        }
    }

    /// <summary>Cancel: kills the current launch's gang when this silo adopted it (the runner only stops gangs it started).</summary>
    private void StopAdoptedGang()
    {
        if (!adopted || runner is null) return;
        adopted = false;
        AdoptedGang.Kill(LaunchLogs.ExitCodePathFor(OutputDirectory, S.Launches));
    }

    /// <summary>The taken-over restart is due: make sure no gang of that launch number survives, then relaunch.</summary>
    private Task RelaunchAdoptedAsync()
    {
        if (S.Phase == JobPhase.Launching)
            AdoptedGang.Kill(LaunchLogs.ExitCodePathFor(OutputDirectory, S.Launches + 1)); // started, but Running never persisted
        return RelaunchAsync();
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
}
