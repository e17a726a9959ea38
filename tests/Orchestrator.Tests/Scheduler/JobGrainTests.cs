using Orchestrator.Contracts.Grains;
using Orchestrator.Contracts.Models;

namespace Orchestrator.Tests.Scheduler;

/// <summary>
/// The job grain as a carrier of decisions (the decisions themselves: <see cref="JobLifecycleTests"/>): registry,
/// duplicate and unknown jobs, persistence across deactivation, and nothing stored when a decision is refused.
/// Gangs are pretend (<see cref="ClusterFixture.Launcher"/>).
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class JobGrainTests(ClusterFixture fixture)
{
    private const string Spec = "name: demo\nworkers: 2\n";

    private async Task<IJobGrain> SubmittedAsync(int workers = 2, int maxRestarts = 3)
    {
        var grain = fixture.Client.GetGrain<IJobGrain>(ClusterFixture.FreshKey("job"));
        // A long backoff keeps a restarted job in Launching while the test looks at it.
        await grain.SubmitAsync(new JobSubmission(Spec, workers, maxRestarts, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(60)));
        return grain;
    }

    [Fact]
    public async Task Submitted_jobs_are_listed_by_the_registry_once_in_submission_order()
    {
        var first = await SubmittedAsync(workers: 1);
        var second = await SubmittedAsync(workers: 1);
        await Assert.ThrowsAsync<InvalidOperationException>(() => first.SubmitAsync(JobSubmission.WithDefaults(Spec, 2)));
        var names = await fixture.Client.GetGrain<IJobRegistryGrain>(IJobRegistryGrain.DefaultKey).ListAsync();
        var mine = names.Where(n => n == first.GetPrimaryKeyString() || n == second.GetPrimaryKeyString()).ToList();
        Assert.Equal([first.GetPrimaryKeyString(), second.GetPrimaryKeyString()], mine);
        await first.CancelAsync();
        await second.CancelAsync();
    }

    [Fact]
    public async Task A_submitted_job_is_admitted_launched_and_running_on_a_recorded_gang()
    {
        var job = await SubmittedAsync(workers: 2);
        var status = await job.GetStatusAsync();
        Assert.Equal([JobPhase.Pending, JobPhase.Launching, JobPhase.Running], status.History.Select(t => t.To));
        var gang = Assert.Single(fixture.Launcher.Of(job.GetPrimaryKeyString()));
        Assert.Equal(2, gang.Request.Workers);
        Assert.Equal(JobPhase.Cancelled, (await job.CancelAsync()).Phase);
        Assert.True(gang.Killed);
    }

    [Fact]
    public async Task Duplicate_submission_and_unknown_jobs_are_clear_errors()
    {
        var job = await SubmittedAsync(workers: 1);
        var duplicate = await Assert.ThrowsAsync<InvalidOperationException>(() => job.SubmitAsync(JobSubmission.WithDefaults(Spec, 1)));
        Assert.Contains("already exists", duplicate.Message);
        var noSuchRank = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => job.GetLogAsync(5, 10));
        Assert.Contains("runs 1 worker(s): ranks 0..0; there is no rank 5", noSuchRank.Message);
        await job.CancelAsync();

        var unknown = fixture.Client.GetGrain<IJobGrain>(ClusterFixture.FreshKey("ghost"));
        Assert.Contains("unknown job", (await Assert.ThrowsAsync<InvalidOperationException>(() => unknown.GetStatusAsync())).Message);
        Assert.Contains("unknown job", (await Assert.ThrowsAsync<InvalidOperationException>(() => unknown.CancelAsync())).Message);
        await Assert.ThrowsAnyAsync<ArgumentException>(() => unknown.SubmitAsync(JobSubmission.WithDefaults(Spec, 0)));
        Assert.Contains("unknown job", (await Assert.ThrowsAsync<InvalidOperationException>(() => unknown.GetStatusAsync())).Message);
    }

    [Fact]
    public async Task State_survives_grain_deactivation()
    {
        var job = await SubmittedAsync(workers: 1);
        var gang = Assert.Single(fixture.Launcher.Of(job.GetPrimaryKeyString()));
        gang.Exit(137);
        JobStatus before;
        do before = await job.GetStatusAsync(); while (before.Phase != JobPhase.Launching && await Task.Delay(20).ContinueWith(_ => true));
        Assert.Equal(1, before.Restarts);

        await fixture.Cluster.DeactivateAsync(job);

        var after = await job.GetStatusAsync();
        Assert.Equal(JobPhase.Launching, after.Phase);
        Assert.Equal(1, after.Restarts);
        Assert.Equal(1, after.Workers);
        Assert.Equal<JobTransition>(before.History, after.History);
        Assert.Equal(before.NextLaunchNotBefore, after.NextLaunchNotBefore);
        await job.CancelAsync();
    }

    [Fact]
    public async Task A_refused_request_stores_nothing()
    {
        var job = await SubmittedAsync(workers: 2);
        var before = await job.GetStatusAsync();
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => job.RequestRescaleAsync(0));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => job.RequestRescaleAsync(ClusterFixture.WorkerSlots + 5)); // more than the slots
        var after = await job.GetStatusAsync();
        Assert.Equal((before.Phase, before.Workers, before.History.Length), (after.Phase, after.Workers, after.History.Length));
        await job.CancelAsync();
        var again = await Assert.ThrowsAsync<InvalidOperationException>(() => job.CancelAsync());
        Assert.EndsWith("already cancelled; there is nothing to cancel", again.Message);
    }
}
