using System.Diagnostics;
using Orchestrator.Contracts.Grains;
using Orchestrator.Contracts.Models;
using Orchestrator.Spec;
using Orchestrator.Silos.Hosting;

namespace Orchestrator.Bench.Drivers;

/// <summary>
/// Measurements of the control plane on this machine, each against a real embedded silo with real MPI workers
/// (see <c>bench control-plane</c>): start-up latency, a job's throughput, heartbeat capacity and recovery time.
/// </summary>
public static class ControlPlaneProbe
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(20);

    /// <summary>What one job run under a fresh embedded silo took.</summary>
    /// <param name="SiloStartSeconds">Starting the in-process silo.</param>
    /// <param name="FirstStepSeconds">From the start of <c>run</c> (silo start included) to the first step record in <c>metrics.jsonl</c>.</param>
    /// <param name="SamplesPerSecond">The job's training throughput (its summary).</param>
    public sealed record JobTiming(double SiloStartSeconds, double FirstStepSeconds, double SamplesPerSecond);

    /// <summary>Runs <paramref name="spec"/> to the end the way <c>orchestrator run</c> does and times it.</summary>
    public static async Task<JobTiming> RunJobAsync(JobSpec spec, string output, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        await using var silo = await EmbeddedSilo.StartAsync(new EmbeddedSiloOptions { WorkerSlots = Math.Max(spec.Workers, Environment.ProcessorCount) });
        var siloStart = clock.Elapsed.TotalSeconds;
        var grain = silo.Client.GetGrain<IJobGrain>(spec.Name);
        await grain.SubmitAsync(JobSubmission.ForSpec(spec, JobSpecYaml.ToYaml(spec)) with { OutputDirectory = output });
        var metrics = RunLayout.Metrics(output);
        double? firstStep = null;
        while (true)
        {
            if (firstStep is null && File.Exists(metrics) && new FileInfo(metrics).Length > 0)
                firstStep = clock.Elapsed.TotalSeconds;
            var status = await grain.GetStatusAsync();
            if (status.Phase == JobPhase.Succeeded) break;
            if (status.Phase is JobPhase.Failed or JobPhase.Cancelled || clock.Elapsed > limit)
                throw new UserFacingException($"benchmark job {spec.Name} ended {status.Phase}: {status.FailureReason} (log: {RunLayout.LauncherLog(output)})");
            await Task.Delay(Poll);
        }
        var summary = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(RunLayout.Summary(output))).RootElement;
        return new JobTiming(siloStart, firstStep ?? double.NaN, summary.GetProperty("samples_per_second").GetDouble());
    }

    /// <summary>
    /// Heartbeat calls per second one silo answers: a job whose single worker hangs at its first step (so the grain is
    /// Running and the CPU is free) receives heartbeats from <paramref name="callers"/> concurrent loops of one
    /// external Orleans client (as workers connect) for <paramref name="duration"/>.
    /// </summary>
    public static async Task<(long Calls, double Seconds)> HeartbeatCapacityAsync(JobSpec spec, string output, int callers, TimeSpan duration)
    {
        await using var silo = await EmbeddedSilo.StartAsync(new EmbeddedSiloOptions { WorkerSlots = Environment.ProcessorCount });
        var grainKey = spec.Name;
        var submission = JobSubmission.ForSpec(spec with { Workers = 1 }, JobSpecYaml.ToYaml(spec with { Workers = 1 })) with
        {
            OutputDirectory = output,
            FirstLaunchArguments = ["--stall-at", "0:0"],
            StallTimeout = TimeSpan.FromHours(1),
        };
        var job = silo.Client.GetGrain<IJobGrain>(grainKey);
        await job.SubmitAsync(submission);
        var clockStart = Stopwatch.StartNew();
        while ((await job.GetStatusAsync()).Phase != JobPhase.Running)
        {
            if (clockStart.Elapsed > TimeSpan.FromMinutes(1)) throw new UserFacingException("heartbeat benchmark: the job never ran");
            await Task.Delay(Poll);
        }
        await using var connection = await ClusterConnection.ConnectAsync(new ClusterTarget(silo.Gateway.ToString(), null, silo.ClusterId));
        var remote = connection.Client.GetGrain<IJobGrain>(grainKey);
        long calls = 0;
        var clock = Stopwatch.StartNew();
        var loops = Enumerable.Range(0, callers).Select(caller => Task.Run(async () =>
        {
            long step = 0;
            while (clock.Elapsed < duration)
            {
                // Answered None: the grain took it as a live heartbeat of its running gang (not the cheap Stop of a stale one).
                if (await remote.HeartbeatAsync(new WorkerHeartbeat(1, ++step, 1000, 0.5, 0.05, caller)) != WorkerDirective.None)
                    throw new UserFacingException("heartbeat benchmark: the job grain answered a heartbeat with a directive");
                Interlocked.Increment(ref calls);
            }
        })).ToArray();
        await Task.WhenAll(loops);
        var seconds = clock.Elapsed.TotalSeconds;
        await job.CancelAsync();
        return (calls, seconds);
    }

    /// <summary>
    /// Recovery time: a 2-worker job whose rank 1 exits (code 137) at <paramref name="dieAtStep"/>; from the moment the
    /// silo records the failed exit to the relaunched gang's Running (processes started) and to its first heartbeat that
    /// shows a new step (training again).
    /// </summary>
    public static async Task<(double ToRunning, double ToFirstStep)> RecoveryAsync(JobSpec spec, string output, int dieAtStep, TimeSpan limit)
    {
        await using var silo = await EmbeddedSilo.StartAsync(new EmbeddedSiloOptions { WorkerSlots = Math.Max(2, Environment.ProcessorCount) });
        var job = silo.Client.GetGrain<IJobGrain>(spec.Name);
        await job.SubmitAsync(JobSubmission.ForSpec(spec, JobSpecYaml.ToYaml(spec)) with
        {
            OutputDirectory = output,
            FirstLaunchArguments = ["--die-at", $"{dieAtStep}:1"],
        });
        var clock = Stopwatch.StartNew();
        DateTimeOffset? firstStepAgain = null;
        while (clock.Elapsed < limit)
        {
            var status = await job.GetStatusAsync();
            if (status.LastHeartbeat is { Heartbeat.Launch: 2 } beat && beat.Heartbeat.Step >= dieAtStep)
            {
                firstStepAgain = beat.ReceivedAt;
                var failed = status.History.First(t => t.Note?.Contains("worker exited", StringComparison.Ordinal) == true);
                var running = status.History.Last(t => t.To == JobPhase.Running);
                await job.CancelAsync();
                return ((running.At - failed.At).TotalSeconds, (firstStepAgain.Value - failed.At).TotalSeconds);
            }
            if (status.Phase is JobPhase.Failed or JobPhase.Succeeded or JobPhase.Cancelled)
                throw new UserFacingException($"recovery benchmark job ended {status.Phase} before it trained again: {status.FailureReason}");
            await Task.Delay(Poll);
        }
        throw new UserFacingException($"recovery benchmark: no step after the restart within {limit}");
    }

    /// <summary>
    /// The median step wall time in a run's <c>metrics.jsonl</c>, leaving out the first 20 steps (start-up: the worker
    /// link's client connects, caches warm), so it compares steady-state steps with and without the control plane.
    /// </summary>
    public static double SteadyStepSeconds(string metricsPath)
    {
        var seconds = new List<double>();
        foreach (var line in File.ReadLines(metricsPath))
        {
            using var record = System.Text.Json.JsonDocument.Parse(line);
            var r = record.RootElement;
            if (r.TryGetProperty("seconds", out var s) && r.TryGetProperty("step", out var step) && step.GetInt64() > 20)
                seconds.Add(s.GetDouble());
        }
        if (seconds.Count == 0) throw new UserFacingException($"{metricsPath}: no step records after step 20");
        seconds.Sort();
        return seconds[seconds.Count / 2];
    }
}
