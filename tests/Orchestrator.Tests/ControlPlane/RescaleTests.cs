using System.Diagnostics;
using System.Globalization;
using Orchestrator.Contracts.Grains;
using Orchestrator.Contracts.Models;
using Orchestrator.Spec;
using Orchestrator.Silos.Hosting;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Telemetry;
using Orchestrator.Trainer.Training;

namespace Orchestrator.Tests.ControlPlane;

/// <summary>
/// Rescaling and recovery end to end: an embedded silo in the test process launches real MPI workers (the CLI built
/// next to the tests), slowed by a per-step delay so the test can act mid-epoch; every worker records the dataset
/// indices it trained on (<see cref="SampleLog"/>), and the test checks from those records that every sample of every
/// epoch was used exactly once across the launches.
/// </summary>
public sealed class RescaleTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);

    private static string Spec(string name, string policy) =>
        $$"""
        name: {{name}}
        device: cpu
        workers: 2
        data: {dataset: synthetic}
        model: {kind: mlp, width: 2}
        training: {epochs: 2, global_batch: 64, threads: 1}
        checkpoint: {every_steps: 4, keep: 3}
        metrics: {port: 0}
        fault: {stall_seconds: 20, max_restarts: 2, restart_backoff_seconds: 0.2}
        scaling: {policy: {{policy}}}

        """;

    private static async Task<EmbeddedSilo> SiloAsync(TempDirectory dir)
    {
        var options = new EmbeddedSiloOptions { WorkerSlots = 2, RunsRoot = dir.File("runs") };
        options.WorkerEnvironment[FaultInjection.StepDelayVariable] = "200";
        options.WorkerEnvironment[SampleLog.Variable] = "1";
        return await EmbeddedSilo.StartAsync(options);
    }

    private static async Task<(IJobGrain Grain, string Output)> SubmitAsync(EmbeddedSilo silo, TempDirectory dir, string name, ScalingPolicy policy)
    {
        var spec = JobSpecLoader.Parse(Spec(name, policy.SpecName()), "test.yaml", []);
        var output = dir.File("run");
        var grain = silo.Client.GetGrain<IJobGrain>(name);
        await grain.SubmitAsync(JobSubmission.ForSpec(spec, JobSpecYaml.ToYaml(spec)) with { OutputDirectory = output });
        return (grain, output);
    }

    /// <summary>Polls the job until <paramref name="done"/> holds; fails with the last status (and the log tail) after <see cref="Limit"/>.</summary>
    private static async Task<JobStatus> WaitAsync(IJobGrain grain, string output, Func<JobStatus, bool> done, string what)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var status = await grain.GetStatusAsync();
            if (done(status)) return status;
            if (clock.Elapsed > Limit || (status.Phase is JobPhase.Failed or JobPhase.Cancelled))
            {
                var log = Path.Combine(output, "logs", "launcher.log");
                var tail = File.Exists(log) ? string.Join('\n', File.ReadLines(log).TakeLast(20)) : "(no log)";
                throw new Xunit.Sdk.XunitException($"waiting for {what}: {status.Phase}, workers {status.Workers}, step {status.LastHeartbeat?.Heartbeat.Step}, " +
                    $"reason {status.FailureReason}\n{string.Join('\n', status.History.Select(t => $"{t.To} {t.Note}"))}\n{tail}");
            }
            await Task.Delay(100);
        }
    }

    private static Func<JobStatus, bool> RunningLaunch(int launch, int workers, long minStep) => s =>
        s.Phase == JobPhase.Running && s.Workers == workers && s.LastHeartbeat is { } beat && beat.Heartbeat.Launch == launch && beat.Heartbeat.Step >= minStep;

    /// <summary>
    /// Early in an epoch (32 steps of 64 at the spec's batch), so the stop a heartbeat and a few steps later lands
    /// mid-epoch rather than on a boundary.
    /// </summary>
    private static Func<JobStatus, bool> EarlyInEpoch(Func<JobStatus, bool> running) => s =>
        running(s) && s.LastHeartbeat!.Heartbeat.Step % 32 is >= 2 and <= 20;

    [Fact]
    public async Task Rescaling_2_to_1_to_2_mid_epoch_uses_every_sample_of_each_epoch_exactly_once_and_keeps_the_global_batch()
    {
        using var dir = new TempDirectory();
        await using var silo = await SiloAsync(dir);
        var (job, output) = await SubmitAsync(silo, dir, "cp-rescale", ScalingPolicy.KeepGlobalBatch);

        var first = await WaitAsync(job, output, EarlyInEpoch(RunningLaunch(1, 2, 3)), "launch 1 early in an epoch");
        var down = await job.RequestRescaleAsync(1);
        Assert.Equal((JobPhase.Rescaling, (int?)1), (down.Phase, down.RequestedWorkers));
        var second = await WaitAsync(job, output, RunningLaunch(2, 1, 0), "launch 2 on 1 worker");
        await WaitAsync(job, output, EarlyInEpoch(RunningLaunch(2, 1, second.LastHeartbeat!.Heartbeat.Step + 2)), "launch 2 early in an epoch");
        await job.RequestRescaleAsync(2);
        var done = await WaitAsync(job, output, s => s.Phase == JobPhase.Succeeded, "success");

        Assert.Equal(0, done.Restarts);
        Assert.Equal(2, done.Workers);
        Assert.Equal(2, done.History.Count(t => t.To == JobPhase.Rescaling));
        var records = SampleRecords.Read(output);
        Assert.Equal([1, 2, 3], records.Select(r => r.Launch).Distinct().Order());
        Assert.Equal([0, 1], records.Where(r => r.Launch == 1).Select(r => r.Rank).Distinct().Order());
        Assert.Equal([0], records.Where(r => r.Launch == 2).Select(r => r.Rank).Distinct());
        Assert.Equal([0, 1], records.Where(r => r.Launch == 3).Select(r => r.Rank).Distinct().Order());
        // Each relaunch continued mid-epoch, where the previous gang stopped, and every step kept 64 samples.
        var starts = string.Join("; ", records.GroupBy(r => r.Launch).Select(g => $"launch {g.Key}: steps {g.Min(r => r.Step)}..{g.Max(r => r.Step)}"));
        Assert.All(new[] { 2, 3 }, launch => Assert.True(records.Where(r => r.Launch == launch).MinBy(r => r.Step)!.Offset > 0,
            $"launch {launch} started at an epoch boundary ({starts})"));
        Assert.All(records.GroupBy(r => r.Step), g => Assert.Equal(64, g.Sum(r => r.Indices.Length)));
        SampleRecords.AssertEachSampleOncePerEpoch(records, SyntheticDataset.DefaultTrainCount, epochs: 2);
        Assert.True(first.LastHeartbeat!.Heartbeat.Step >= 3);
    }

    [Fact]
    public async Task Rescaling_2_to_1_with_keep_worker_batch_halves_the_global_batch_and_still_uses_each_sample_once()
    {
        using var dir = new TempDirectory();
        await using var silo = await SiloAsync(dir);
        var (job, output) = await SubmitAsync(silo, dir, "cp-rescale-wb", ScalingPolicy.KeepWorkerBatch);

        await WaitAsync(job, output, EarlyInEpoch(RunningLaunch(1, 2, 3)), "launch 1 early in an epoch");
        await job.RequestRescaleAsync(1);
        var done = await WaitAsync(job, output, s => s.Phase == JobPhase.Succeeded, "success");

        Assert.Equal(1, done.Workers);
        var records = SampleRecords.Read(output);
        Assert.All(records.Where(r => r.Launch == 1), r => Assert.Equal(32, r.Indices.Length)); // 64 over 2 workers
        var later = records.Where(r => r.Launch == 2).ToList();
        Assert.NotEmpty(later);
        Assert.True(later.MinBy(r => r.Step)!.Offset > 0, "the relaunch started at an epoch boundary");
        // Each rank keeps 32 samples: the global batch is 32 now, except the epoch's last, shorter step.
        Assert.True(later.Count(r => r.Indices.Length == 32) >= later.Count - 2, string.Join(",", later.Select(r => r.Indices.Length)));
        SampleRecords.AssertEachSampleOncePerEpoch(records, SyntheticDataset.DefaultTrainCount, epochs: 2);
    }

    [Fact]
    public async Task Scale_requests_that_cannot_work_are_refused_and_change_nothing()
    {
        using var dir = new TempDirectory();
        await using var silo = await SiloAsync(dir);
        var (job, output) = await SubmitAsync(silo, dir, "cp-rescale-bad", ScalingPolicy.KeepGlobalBatch);
        await WaitAsync(job, output, RunningLaunch(1, 2, 1), "launch 1 running");

        var zero = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => job.RequestRescaleAsync(0));
        Assert.Contains("at least 1", zero.Message);
        var tooMany = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => job.RequestRescaleAsync(4));
        Assert.Contains("the cluster's 2 slots could never hold the gang", tooMany.Message);
        var uneven = await Assert.ThrowsAsync<ArgumentException>(() => job.RequestRescaleAsync(3));
        Assert.Contains("does not split evenly over the 3 workers", uneven.Message);
        var same = await Assert.ThrowsAsync<ArgumentException>(() => job.RequestRescaleAsync(2));
        Assert.Contains("already runs on 2 workers", same.Message);
        var status = await job.GetStatusAsync();
        Assert.Equal((JobPhase.Running, 2, (int?)null), (status.Phase, status.Workers, status.RequestedWorkers));

        await job.CancelAsync();
        var finished = await Assert.ThrowsAsync<InvalidOperationException>(() => job.RequestRescaleAsync(1));
        Assert.Contains("only a running job can be scaled", finished.Message);
    }

    [Fact]
    public async Task Killing_a_worker_by_pid_restarts_the_job_from_its_checkpoint_and_it_succeeds_with_1_restart()
    {
        using var dir = new TempDirectory();
        await using var silo = await SiloAsync(dir);
        var (job, output) = await SubmitAsync(silo, dir, "cp-kill", ScalingPolicy.KeepGlobalBatch);

        var running = await WaitAsync(job, output, RunningLaunch(1, 2, 5), "launch 1 past its first checkpoint");
        var pid = running.LastHeartbeat!.Heartbeat.ProcessId;
        using (var worker = Process.GetProcessById(pid))
        {
            Assert.Contains("orchestrator.dll", File.ReadAllText($"/proc/{pid}/cmdline"));
            worker.Kill(); // SIGKILL to the one rank that sent the newest heartbeat; mpirun ends the gang and reports the failure
        }
        var done = await WaitAsync(job, output, s => s.Phase == JobPhase.Succeeded, "success after the kill");

        Assert.Equal(1, done.Restarts);
        Assert.Contains(done.History, t => t.Note?.Contains("restart 1 of 2", StringComparison.Ordinal) == true);
        Assert.Contains("resumed from", File.ReadAllText(Path.Combine(output, "logs", "launcher.log")));
        Assert.False(ControlPlaneSpecs.AnyProcessMentions(output), "a worker outlived the job");
    }

    /// <summary>One line of a worker's sample log.</summary>
    private sealed record SampleRecord(int Launch, int Rank, long Step, int Epoch, long Offset, long[] Indices);

    private static class SampleRecords
    {
        public static List<SampleRecord> Read(string output)
        {
            var records = new List<SampleRecord>();
            foreach (var file in Directory.GetFiles(Path.Combine(output, "samples"), "launch-*.rank-*.txt"))
            {
                var parts = Path.GetFileNameWithoutExtension(file).Split('.');
                int launch = int.Parse(parts[0]["launch-".Length..], CultureInfo.InvariantCulture);
                int rank = int.Parse(parts[1]["rank-".Length..], CultureInfo.InvariantCulture);
                foreach (var line in File.ReadLines(file))
                {
                    var f = line.Split(' ');
                    var indices = f.Length > 3 && f[3].Length > 0 ? f[3].Split(',').Select(i => long.Parse(i, CultureInfo.InvariantCulture)).ToArray() : [];
                    records.Add(new SampleRecord(launch, rank, long.Parse(f[0], CultureInfo.InvariantCulture), int.Parse(f[1], CultureInfo.InvariantCulture),
                        long.Parse(f[2], CultureInfo.InvariantCulture), indices));
                }
            }
            return records;
        }

        /// <summary>Every index 0..size-1 appears exactly once in each epoch, over all launches and ranks.</summary>
        public static void AssertEachSampleOncePerEpoch(List<SampleRecord> records, int size, int epochs)
        {
            for (int epoch = 0; epoch < epochs; epoch++)
            {
                var counts = new int[size];
                foreach (var r in records.Where(r => r.Epoch == epoch))
                    foreach (var i in r.Indices) counts[i]++;
                var missing = Enumerable.Range(0, size).Where(i => counts[i] == 0).ToList();
                var repeated = Enumerable.Range(0, size).Where(i => counts[i] > 1).ToList();
                Assert.True(missing.Count == 0 && repeated.Count == 0,
                    $"epoch {epoch}: {missing.Count} samples never used (first {string.Join(",", missing.Take(5))}), {repeated.Count} used more than once");
            }
        }
    }
}
