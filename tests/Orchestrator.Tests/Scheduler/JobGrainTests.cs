using Orchestrator.Contracts.Grains;
using Orchestrator.Contracts.Models;

namespace Orchestrator.Tests.Scheduler;

[Collection(ClusterCollection.Name)]
public sealed class JobGrainTests(ClusterFixture fixture)
{
    private const string Spec = "name: demo\nworkers: 2\n";

    private async Task<IJobGrain> SubmittedAsync(int workers = 2, int maxRestarts = 3)
    {
        var grain = fixture.Client.GetGrain<IJobGrain>(ClusterFixture.FreshKey("job"));
        await grain.SubmitAsync(new JobSubmission(Spec, workers, maxRestarts, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60)));
        return grain;
    }

    [Fact]
    public async Task Submitted_jobs_are_listed_by_the_registry_once_in_submission_order()
    {
        var first = await SubmittedAsync();
        var second = await SubmittedAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => first.SubmitAsync(JobSubmission.WithDefaults(Spec, 2)));
        var names = await fixture.Client.GetGrain<IJobRegistryGrain>(IJobRegistryGrain.DefaultKey).ListAsync();
        var mine = names.Where(n => n == first.GetPrimaryKeyString() || n == second.GetPrimaryKeyString()).ToList();
        Assert.Equal([first.GetPrimaryKeyString(), second.GetPrimaryKeyString()], mine);
    }

    [Fact]
    public async Task Happy_path_with_a_rescale_ends_Succeeded_and_records_every_transition()
    {
        var job = await SubmittedAsync();
        Assert.Equal(JobPhase.Pending, (await job.GetStatusAsync()).Phase);
        await job.MarkLaunchingAsync();
        await job.MarkRunningAsync();
        var rescaling = await job.RequestRescaleAsync(1);
        Assert.Equal((JobPhase.Rescaling, 2, (int?)1), (rescaling.Phase, rescaling.Workers, rescaling.RequestedWorkers));
        Assert.Equal(JobPhase.Rescaling, (await job.ReportExitAsync(0)).Phase); // the expected stop
        var relaunched = await job.MarkLaunchingAsync();
        Assert.Equal((1, (int?)null), (relaunched.Workers, relaunched.RequestedWorkers));
        await job.MarkRunningAsync();
        var done = await job.ReportExitAsync(0);

        Assert.Equal(JobPhase.Succeeded, done.Phase);
        Assert.Equal(0, done.Restarts);
        Assert.Equal(
            [JobPhase.Pending, JobPhase.Launching, JobPhase.Running, JobPhase.Rescaling, JobPhase.Launching, JobPhase.Running, JobPhase.Succeeded],
            done.History.Select(t => t.To));
        Assert.True(done.History.Zip(done.History.Skip(1)).All(p => p.First.At <= p.Second.At));
    }

    [Fact]
    public async Task An_illegal_transition_is_rejected_and_the_state_is_unchanged()
    {
        var job = await SubmittedAsync();
        var before = await job.GetStatusAsync();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => job.MarkRunningAsync());
        Assert.Equal("illegal job transition Pending -> Running", error.Message);
        await Assert.ThrowsAsync<InvalidOperationException>(() => job.RequestRescaleAsync(3));

        var after = await job.GetStatusAsync();
        Assert.Equal((before.Phase, before.Workers, before.History.Length), (after.Phase, after.Workers, after.History.Length));
    }

    [Fact]
    public async Task Duplicate_submission_and_unknown_jobs_are_clear_errors()
    {
        var job = await SubmittedAsync();
        var duplicate = await Assert.ThrowsAsync<InvalidOperationException>(() => job.SubmitAsync(JobSubmission.WithDefaults(Spec, 1)));
        Assert.Contains("already exists", duplicate.Message);

        var unknown = fixture.Client.GetGrain<IJobGrain>(ClusterFixture.FreshKey("ghost"));
        Assert.Contains("unknown job", (await Assert.ThrowsAsync<InvalidOperationException>(() => unknown.GetStatusAsync())).Message);
        await Assert.ThrowsAnyAsync<ArgumentException>(() => unknown.SubmitAsync(JobSubmission.WithDefaults(Spec, 0)));
    }

    [Fact]
    public async Task State_survives_grain_deactivation()
    {
        var job = await SubmittedAsync(workers: 3);
        await job.MarkLaunchingAsync();
        await job.MarkRunningAsync();
        await job.ReportExitAsync(137);
        var before = await job.GetStatusAsync();

        await fixture.Cluster.DeactivateAsync(job);

        var after = await job.GetStatusAsync();
        Assert.Equal(JobPhase.Launching, after.Phase);
        Assert.Equal(1, after.Restarts);
        Assert.Equal(3, after.Workers);
        Assert.Equal<JobTransition>(before.History, after.History);
        Assert.Equal(before.NextLaunchNotBefore, after.NextLaunchNotBefore);
    }

    [Fact]
    public async Task Failed_exits_restart_with_backoff_until_the_maximum_then_the_job_Fails_with_the_reason()
    {
        var job = await SubmittedAsync(maxRestarts: 2);
        await job.MarkLaunchingAsync();
        await job.MarkRunningAsync();

        var first = await job.ReportExitAsync(137);
        Assert.Equal((JobPhase.Launching, 1), (first.Phase, first.Restarts));
        var firstWait = first.NextLaunchNotBefore!.Value - first.History[^1].At;
        Assert.Equal(TimeSpan.FromSeconds(1), firstWait);

        // Dies again before it ever runs: relaunched in place, counted.
        var second = await job.ReportExitAsync(1);
        Assert.Equal((JobPhase.Launching, 2), (second.Phase, second.Restarts));
        Assert.Equal(TimeSpan.FromSeconds(2), second.NextLaunchNotBefore!.Value - second.History[^1].At);

        await job.MarkRunningAsync();
        var failed = await job.ReportExitAsync(9);
        Assert.Equal(JobPhase.Failed, failed.Phase);
        Assert.Equal(2, failed.Restarts);
        Assert.Equal("worker exited with code 9; restarts exhausted (2 of 2)", failed.FailureReason);
        await Assert.ThrowsAsync<InvalidOperationException>(() => job.MarkLaunchingAsync());
    }

    [Fact]
    public async Task Cancel_works_from_Pending_and_from_Running_and_not_twice()
    {
        var pending = await SubmittedAsync();
        Assert.Equal(JobPhase.Cancelled, (await pending.CancelAsync()).Phase);

        var running = await SubmittedAsync();
        await running.MarkLaunchingAsync();
        await running.MarkRunningAsync();
        var cancelled = await running.CancelAsync();
        Assert.Equal(JobPhase.Cancelled, cancelled.Phase);
        Assert.Equal(JobPhase.Running, cancelled.History[^1].From);

        var again = await Assert.ThrowsAsync<InvalidOperationException>(() => running.CancelAsync());
        Assert.Equal("illegal job transition Cancelled -> Cancelled", again.Message);
    }

    [Fact]
    public async Task Rescale_to_zero_is_rejected()
    {
        var job = await SubmittedAsync();
        await job.MarkLaunchingAsync();
        await job.MarkRunningAsync();
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => job.RequestRescaleAsync(0));
        Assert.Equal(JobPhase.Running, (await job.GetStatusAsync()).Phase);
    }
}
