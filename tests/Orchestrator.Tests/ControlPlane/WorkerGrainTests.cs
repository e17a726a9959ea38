using Orchestrator.Contracts.Grains;
using Orchestrator.Contracts.Models;

namespace Orchestrator.Tests.ControlPlane;

/// <summary>
/// Per-worker heartbeats: each rank heartbeats its worker grain (<c>job/rank</c>), which keeps the rank's newest
/// heartbeat and forwards it to the job grain; the job's status lists every rank's newest heartbeat of the current
/// launch, and stall detection counts progress of any rank (a lagging rank is not progress).
/// </summary>
public sealed class WorkerGrainTests(DrivingClusterFixture fixture) : IClassFixture<DrivingClusterFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    private static string Key(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];

    private async Task<IJobGrain> SubmitAsync(string id, int workers, TimeSpan? stall)
    {
        var grain = fixture.Client.GetGrain<IJobGrain>(id);
        await grain.SubmitAsync(new JobSubmission("name: x\n", workers, 1, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(200), StallTimeout: stall));
        return grain;
    }

    private IWorkerGrain Worker(string job, int rank) => fixture.Client.GetGrain<IWorkerGrain>(IWorkerGrain.Key(job, rank));

    private static WorkerHeartbeat Beat(int launch, long step, int rank) =>
        new(launch, step, 1000, 0.5, 0.010, 100 + rank, rank, ComputeSeconds: 0.006, CompressionSeconds: 0.001, CommunicationSeconds: 0.003);

    [Fact]
    public void Keys_are_job_slash_rank_and_parse_back()
    {
        Assert.Equal("train-a/3", IWorkerGrain.Key("train-a", 3));
        Assert.Equal(("train-a", 3), IWorkerGrain.ParseKey("train-a/3"));
        Assert.Throws<ArgumentException>(() => IWorkerGrain.ParseKey("train-a"));
        Assert.Throws<ArgumentException>(() => IWorkerGrain.ParseKey("train-a/x"));
        Assert.Throws<ArgumentOutOfRangeException>(() => IWorkerGrain.Key("train-a", -1));
    }

    [Fact]
    public async Task Every_ranks_heartbeat_reaches_the_job_status_with_its_step_split_and_the_directive_comes_back()
    {
        var id = Key("ranks");
        var job = await SubmitAsync(id, workers: 2, stall: null);

        Assert.Equal(WorkerDirective.None, await Worker(id, 0).HeartbeatAsync(Beat(1, 7, 0)));
        Assert.Equal(WorkerDirective.None, await Worker(id, 1).HeartbeatAsync(Beat(1, 6, 1)));

        var status = await job.GetStatusAsync();
        Assert.Equal([0, 1], status.WorkerHeartbeats.Select(h => h.Heartbeat.Rank));
        Assert.Equal([7L, 6L], status.WorkerHeartbeats.Select(h => h.Heartbeat.Step));
        Assert.Equal(0.003, status.WorkerHeartbeats[1].Heartbeat.CommunicationSeconds);
        Assert.Equal(101, status.WorkerHeartbeats[1].Heartbeat.ProcessId);
        Assert.Equal(7, status.LastHeartbeat?.Heartbeat.Step); // the job's newest heartbeat is at the highest step
        var kept = await Worker(id, 1).GetLastHeartbeatAsync();
        Assert.Equal(6, kept?.Heartbeat.Step);

        // A rank's heartbeat under another rank's key is a bug, not data.
        await Assert.ThrowsAsync<ArgumentException>(() => Worker(id, 1).HeartbeatAsync(Beat(1, 8, 0)));
        // A stale launch gets Stop through the worker grain too; once cancelled, every rank gets Stop and the status is empty.
        Assert.Equal(WorkerDirective.Stop, await Worker(id, 0).HeartbeatAsync(Beat(0, 9, 0)));
        await job.CancelAsync();
        Assert.Equal(WorkerDirective.Stop, await Worker(id, 1).HeartbeatAsync(Beat(1, 9, 1)));
        Assert.Empty((await job.GetStatusAsync()).WorkerHeartbeats);
    }

    [Fact]
    public async Task A_lagging_rank_does_not_count_as_progress_so_a_stall_is_still_detected()
    {
        var id = Key("lag");
        var job = await SubmitAsync(id, workers: 2, stall: TimeSpan.FromSeconds(1));
        var deadline = DateTime.UtcNow + Wait;
        JobStatus status;
        do
        {
            // Rank 0 finished step 5 and waits in step 6; rank 1 hangs before reporting step 5.
            await Worker(id, 0).HeartbeatAsync(Beat(1, 5, 0));
            await Worker(id, 1).HeartbeatAsync(Beat(1, 4, 1));
            status = await job.GetStatusAsync();
            if (DateTime.UtcNow > deadline) Assert.Fail($"no stall detected in {Wait}: {status.Phase}, restarts {status.Restarts}");
            await Task.Delay(100);
        }
        while (status.Restarts == 0);
        Assert.Contains(status.History, t => t.Note?.StartsWith("stalled: no step progress for 1 s", StringComparison.Ordinal) == true);
        await job.CancelAsync();
    }
}
