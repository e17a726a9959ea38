using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Orchestrator.Contracts;
using Orchestrator.Contracts.Grains;
using Orchestrator.Contracts.Models;
using Orchestrator.Scheduler.Grains;
using Orchestrator.Scheduler.Launchers;
using Orleans.TestingHost;

namespace Orchestrator.Tests.ControlPlane;

/// <summary>A launcher whose gangs are controlled by the test: no processes. It records the jobs whose resources it is told to
/// release (as the Kubernetes launcher deletes a job's pods).</summary>
public sealed class FakeLauncher : IJobLauncher, IReleasesJobResources
{
    /// <summary>Every job released, in order.</summary>
    public ConcurrentQueue<string> Released { get; } = new();

    /// <inheritdoc />
    public Task ReleaseAsync(string jobId)
    {
        Released.Enqueue(jobId);
        return Task.CompletedTask;
    }

    /// <summary>Every launch, in order.</summary>
    public ConcurrentQueue<FakeGang> Launches { get; } = new();

    /// <inheritdoc />
    public ILaunchedJob Launch(LaunchRequest request)
    {
        var gang = new FakeGang(request);
        Launches.Enqueue(gang);
        return gang;
    }

    /// <summary>The launches of one job.</summary>
    public FakeGang[] Of(string jobId) => [.. Launches.Where(g => g.Request.JobId == jobId)];
}

/// <summary>A pretend gang: the test decides its exit code.</summary>
public sealed class FakeGang(LaunchRequest request) : ILaunchedJob
{
    private readonly TaskCompletionSource<int> exit = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>What the grain asked for.</summary>
    public LaunchRequest Request { get; } = request;

    /// <summary>Whether the gang was killed.</summary>
    public bool Killed { get; private set; }

    /// <inheritdoc />
    public int ProcessId => 4242;

    /// <inheritdoc />
    public Task<int> Exited => exit.Task;

    /// <summary>The gang ends by itself with <paramref name="code"/>.</summary>
    public void Exit(int code) => exit.TrySetResult(code);

    /// <inheritdoc />
    public Task<int> KillAsync()
    {
        Killed = true;
        exit.TrySetResult(137);
        return exit.Task;
    }

    /// <inheritdoc />
    public void Dispose() { }
}

/// <summary>One silo whose job grains drive a <see cref="FakeLauncher"/> through a <see cref="JobRunner"/>; 2 worker slots.</summary>
public sealed class DrivingClusterFixture : IAsyncLifetime
{
    /// <summary>The silo's worker slots.</summary>
    public const int WorkerSlots = 2;

    /// <summary>The launcher the silo's runner uses.</summary>
    public FakeLauncher Launcher { get; } = new();

    /// <summary>Parent of default run directories.</summary>
    internal TempDirectory Runs { get; } = new();

    private InProcessTestCluster cluster = null!;

    /// <summary>The cluster's client.</summary>
    public IClusterClient Client => cluster.Client;

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddMemoryGrainStorage(StorageNames.Jobs);
            silo.AddMemoryGrainStorage(StorageNames.Scheduler);
            silo.Services.Configure<SchedulerOptions>(o => o.WorkerSlots = WorkerSlots);
            silo.Services.AddSingleton(new JobRunner(Launcher, Runs.Path));
            silo.Services.AddSingleton<ActiveStoredStateGrains>();
        });
        cluster = builder.Build();
        await cluster.DeployAsync();
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        await cluster.DisposeAsync();
        Runs.Dispose();
    }
}

/// <summary>
/// The job grain wired to the scheduler and a runner: admission, launch, exit, restart after backoff with the
/// same run directory, Failed after the last restart, cancel killing the gang, slots released to the queue.
/// </summary>
public sealed class JobDrivingTests(DrivingClusterFixture fixture) : IClassFixture<DrivingClusterFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    private FakeLauncher Launcher => fixture.Launcher;

    private static string Key(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];

    private async Task<IJobGrain> SubmitAsync(string id, int workers = 2, int maxRestarts = 2)
    {
        var grain = fixture.Client.GetGrain<IJobGrain>(id);
        await grain.SubmitAsync(new JobSubmission("name: x\n", workers, maxRestarts, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(200)));
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

    private async Task<FakeGang> LaunchOfAsync(string id, int index)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (Launcher.Of(id).Length <= index)
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"launch {index} of {id} never came");
            await Task.Delay(20);
        }
        return Launcher.Of(id)[index];
    }

    private async Task<SchedulerSnapshot> SlotsAsync() =>
        await fixture.Client.GetGrain<ISchedulerGrain>(ISchedulerGrain.DefaultKey).GetSnapshotAsync();

    [Fact]
    public async Task A_granted_job_launches_runs_and_succeeds_then_frees_its_slots()
    {
        var id = Key("ok");
        var job = await SubmitAsync(id);
        var running = await job.GetStatusAsync();
        Assert.Equal(JobPhase.Running, running.Phase);
        var gang = await LaunchOfAsync(id, 0);
        Assert.Equal(2, gang.Request.Workers);
        Assert.Equal(Path.Combine(fixture.Runs.Path, id), gang.Request.OutputDirectory);
        Assert.True(File.Exists(gang.Request.SpecPath));

        gang.Exit(0);
        var done = await UntilAsync(job, s => s.Phase == JobPhase.Succeeded);

        Assert.Equal([JobPhase.Pending, JobPhase.Launching, JobPhase.Running, JobPhase.Succeeded], done.History.Select(t => t.To));
        Assert.DoesNotContain((await SlotsAsync()).Running, g => g.JobId == id);
        Assert.Single(Launcher.Released, id); // the launcher's resources (Kubernetes pods) go with the job
    }

    [Fact]
    public async Task Failures_restart_with_the_same_run_directory_until_the_policy_gives_up()
    {
        var id = Key("fail");
        var job = await SubmitAsync(id, maxRestarts: 1);
        var first = await LaunchOfAsync(id, 0);

        first.Exit(3);
        var second = await LaunchOfAsync(id, 1);
        var restarted = await UntilAsync(job, s => s.Phase == JobPhase.Running && s.Restarts == 1);
        Assert.Equal(first.Request.OutputDirectory, second.Request.OutputDirectory);
        Assert.Contains(restarted.History, t => t.Note?.Contains("restart 1 of 1") == true);

        second.Exit(5);
        var failed = await UntilAsync(job, s => s.Phase == JobPhase.Failed);
        Assert.Contains("code 5", failed.FailureReason);
        Assert.Equal(2, Launcher.Of(id).Length);
        Assert.Single(Launcher.Released, id); // once, at the end: a restart keeps them
        Assert.DoesNotContain((await SlotsAsync()).Running, g => g.JobId == id);
    }

    [Fact]
    public async Task Cancel_kills_the_gang_and_a_queued_job_starts_on_the_freed_slots()
    {
        var first = Key("cancel");
        var waiting = Key("queued");
        var running = await SubmitAsync(first);
        var gang = await LaunchOfAsync(first, 0);
        var queued = await SubmitAsync(waiting);
        Assert.Equal(JobPhase.Pending, (await queued.GetStatusAsync()).Phase);
        Assert.Empty(Launcher.Of(waiting));

        var cancelled = await running.CancelAsync();

        Assert.Equal(JobPhase.Cancelled, cancelled.Phase);
        Assert.True(gang.Killed);
        Assert.Single(Launcher.Released, first); // nothing left behind (a Kubernetes launcher deletes the pods)
        var started = await UntilAsync(queued, s => s.Phase == JobPhase.Running);
        Assert.Equal(JobPhase.Running, started.Phase);
        Assert.Equal(JobPhase.Cancelled, (await running.GetStatusAsync()).Phase); // the kill's exit is not reported
        (await LaunchOfAsync(waiting, 0)).Exit(0);
        await UntilAsync(queued, s => s.Phase == JobPhase.Succeeded);
    }

    [Fact]
    public async Task A_rescale_stops_the_gang_by_directive_and_its_clean_exit_relaunches_at_the_new_size()
    {
        var id = Key("rescale");
        var job = await SubmitAsync(id);
        var gang = await LaunchOfAsync(id, 0);
        Assert.Equal(WorkerDirective.None, await job.HeartbeatAsync(new WorkerHeartbeat(1, 3, 100, 1, 0.1, 1)));

        var rescaling = await job.RequestRescaleAsync(1);

        Assert.Equal((JobPhase.Rescaling, (int?)1), (rescaling.Phase, rescaling.RequestedWorkers));
        Assert.Contains((await SlotsAsync()).Running, g => g.JobId == id && g.Workers == 1); // the slot is given back at once
        Assert.Equal(WorkerDirective.Stop, await job.HeartbeatAsync(new WorkerHeartbeat(1, 4, 100, 1, 0.1, 1)));
        gang.Exit(0); // checkpointed and stopped
        var relaunch = await LaunchOfAsync(id, 1);
        Assert.Equal(1, relaunch.Request.Workers);
        Assert.Equal(gang.Request.OutputDirectory, relaunch.Request.OutputDirectory);
        var running = await UntilAsync(job, s => s.Phase == JobPhase.Running && s.Workers == 1);
        Assert.Equal(0, running.Restarts);
        Assert.Equal(WorkerDirective.None, await job.HeartbeatAsync(new WorkerHeartbeat(2, 5, 100, 1, 0.1, 1)));
        relaunch.Exit(0);
        await UntilAsync(job, s => s.Phase == JobPhase.Succeeded);
    }
}
