using Orchestrator.Contracts.Grains;
using Orchestrator.Contracts.Models;

namespace Orchestrator.Tests.ControlPlane;

/// <summary>
/// The job grain's side of the worker link with a fake launcher: heartbeats and their directives, the status's
/// newest heartbeat, stall detection (recorded, gang killed, relaunched; a killed launch's late exit ignored), and
/// first-launch-only test arguments.
/// </summary>
public sealed class WorkerLinkGrainTests(DrivingClusterFixture fixture) : IClassFixture<DrivingClusterFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    private static string Key(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];

    private async Task<IJobGrain> SubmitAsync(string id, TimeSpan? stall, int maxRestarts = 2, string[]? firstArgs = null)
    {
        var grain = fixture.Client.GetGrain<IJobGrain>(id);
        await grain.SubmitAsync(new JobSubmission("name: x\n", 1, maxRestarts, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(200),
            StallTimeout: stall, FirstLaunchArguments: firstArgs));
        return grain;
    }

    private static async Task<JobStatus> UntilAsync(IJobGrain grain, Func<JobStatus, bool> done)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            var status = await grain.GetStatusAsync();
            if (done(status)) return status;
            if (DateTime.UtcNow > deadline) Assert.Fail($"job did not get there in {Wait}: {status.Phase}, {status.History.Length} transitions");
            await Task.Delay(20);
        }
    }

    private static WorkerHeartbeat Beat(int launch, long step) => new(launch, step, 1000, 0.5, 0.01, 77);

    [Fact]
    public async Task Heartbeats_of_the_current_launch_get_None_and_show_in_the_status_stale_ones_get_Stop()
    {
        var id = Key("beat");
        var job = await SubmitAsync(id, stall: null);

        Assert.Equal(WorkerDirective.None, await job.HeartbeatAsync(Beat(1, 3)));
        var status = await job.GetStatusAsync();
        Assert.Equal(3, status.LastHeartbeat?.Heartbeat.Step);
        Assert.Equal(77, status.LastHeartbeat?.Heartbeat.ProcessId);

        Assert.Equal(WorkerDirective.Stop, await job.HeartbeatAsync(Beat(0, 9)));
        Assert.Equal(WorkerDirective.Stop, await fixture.Client.GetGrain<IJobGrain>(Key("nobody")).HeartbeatAsync(Beat(1, 1)));
        await job.CancelAsync();
        Assert.Equal(WorkerDirective.Stop, await job.HeartbeatAsync(Beat(1, 4)));
        Assert.Null((await job.GetStatusAsync()).LastHeartbeat);
    }

    [Fact]
    public async Task No_step_progress_for_the_stall_timeout_kills_the_gang_and_relaunches_without_the_first_launch_arguments()
    {
        var id = Key("stall");
        var job = await SubmitAsync(id, stall: TimeSpan.FromSeconds(1), firstArgs: ["--stall-at", "5:1"]);
        var first = fixture.Launcher.Of(id).Single();
        Assert.Equal(["--stall-at", "5:1"], first.Request.ExtraArguments);

        await job.HeartbeatAsync(Beat(1, 4));
        await job.HeartbeatAsync(Beat(1, 4)); // alive, but no progress
        var restarted = await UntilAsync(job, s => s.Phase == JobPhase.Running && s.Restarts == 1);

        Assert.True(first.Killed);
        Assert.Contains(restarted.History, t => t.Note == "stalled: no step progress for 1 s; restart 1 of 2");
        var second = fixture.Launcher.Of(id)[1];
        Assert.Empty(second.Request.ExtraArguments);
        Assert.Equal(WorkerDirective.Stop, await job.HeartbeatAsync(Beat(1, 5))); // the torn-down launch
        Assert.Equal(WorkerDirective.None, await job.HeartbeatAsync(Beat(2, 5)));

        var late = await job.ReportLaunchExitAsync(1, 137); // the killed gang's exit: stale, ignored
        Assert.Equal(1, late.Restarts);
        Assert.Equal(JobPhase.Running, late.Phase);
        await job.CancelAsync();
    }

    [Fact]
    public async Task A_stall_after_the_last_restart_fails_the_job_with_the_stall_as_reason()
    {
        var id = Key("stallfail");
        var job = await SubmitAsync(id, stall: TimeSpan.FromSeconds(1), maxRestarts: 0);
        await job.HeartbeatAsync(Beat(1, 2));

        var failed = await UntilAsync(job, s => s.Phase == JobPhase.Failed);

        Assert.Equal("stalled: no step progress for 1 s; restarts exhausted (0 of 0)", failed.FailureReason);
        Assert.True(fixture.Launcher.Of(id).Single().Killed);
    }
}

/// <summary>The launcher's half of the worker link: the link variables reach every rank through MPICH's <c>-genv</c>.</summary>
public sealed class WorkerLinkLaunchTests
{
    [Fact]
    public void The_command_line_passes_each_variable_with_genv_before_the_program()
    {
        var options = new Orchestrator.Scheduler.Launchers.LocalMpiOptions("/x/orchestrator.dll", "dotnet", UseSetsid: false);
        var request = new Orchestrator.Scheduler.Launchers.LaunchRequest("j", 2, "/r/job.yaml", "/r", ["--die-at", "5:1"],
            new Dictionary<string, string> { ["ORCHESTRATOR_GATEWAY"] = "127.0.0.1:3000", ["ORCHESTRATOR_JOB"] = "j" });

        Assert.Equal(
            ["mpirun.mpich", "-prepend-rank", "-np", "2", "-localhost", "127.0.0.1", "-genv", "ORCHESTRATOR_GATEWAY", "127.0.0.1:3000", "-genv", "ORCHESTRATOR_JOB", "j",
             "dotnet", "/x/orchestrator.dll", "train", "/r/job.yaml", "--out", "/r", "--die-at", "5:1"],
            options.CommandLine(request));
    }
}
