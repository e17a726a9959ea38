using System.Text.RegularExpressions;
using Orchestrator.Tests.Cli;
using Orchestrator.Tests.Observability;

namespace Orchestrator.Tests.ControlPlane;

/// <summary>
/// Two <c>orchestrator up</c> silos on a real redis-server (membership, job state, reminders): SIGKILL of the silo that
/// launched a job's gang (and hosted its grain) leaves the job running; the other silo takes the grain over from Redis,
/// adopts the gang (heartbeats through a gateway found in Redis, its end from the supervisor's exit-code file) and the job
/// succeeds without a restart. Also: SIGTERM stops a silo gracefully and kills its gangs.
/// </summary>
public sealed class FailoverTests
{
    private const string ClusterId = "cp-failover";
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [RedisFact]
    public void Killing_the_silo_of_a_running_job_leaves_it_running_and_the_other_silo_sees_it_succeed()
    {
        using var dir = new TempDirectory();
        using var redis = RedisServer.Start(dir.Path);
        using var first = StartSilo(dir, redis, "a");
        using var second = StartSilo(dir, redis, "b");
        var spec = CliSpecs.Write(dir, ControlPlaneSpecs.Synthetic("cp-failover", epochs: 40), "job.yaml");
        var output = Path.Combine(dir.Path, "runs", "run"); // under the silos' runs_root (their working directory's runs/)

        var submitted = Cli(dir, first, "submit", spec, "--workers", "2", "--out", output);
        Assert.True(submitted.ExitCode == 0, submitted.ToString());
        WaitFor(dir, first, "cp-failover", s => s.Contains("│ step ", StringComparison.Ordinal));

        // The silo that launched the gang is the supervisor's parent (and the grain's host): kill it without a goodbye.
        var supervisor = Assert.Single(ProcessTree.Mentioning("gang-exec"), pid => ProcessTree.Mentioning(output).Contains(pid));
        var host = ProcessTree.ParentOf(supervisor) == first.ProcessId ? first : second;
        var survivor = host == first ? second : first;
        host.Kill();
        Assert.True(ProcessTree.Mentioning(output).Count > 0, "the gang died with its silo");

        // The survivor answers for the job and sees it through.
        var running = WaitFor(dir, survivor, "cp-failover", s => s.Contains("running", StringComparison.Ordinal) || s.Contains("succeeded", StringComparison.Ordinal));
        Assert.DoesNotContain("failed", running);
        var done = WaitFor(dir, survivor, "cp-failover", s => Regex.IsMatch(s, @"│ phase\s+│ (succeeded|failed|cancelled)"), TimeSpan.FromSeconds(120));
        Assert.Matches(@"│ phase\s+│ succeeded", done);
        Assert.Matches(@"│ restarts\s+│ 0 of", done); // the same gang finished: nothing was relaunched
        var table = CliRunner.Run(dir.Path, ["status", "--redis", redis.Endpoint, "--cluster", ClusterId], Limit); // any live gateway, found in Redis
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Matches(@"│ cp-failover\s+│ succeeded", table.Output);
        var launches = File.ReadAllLines(Path.Combine(output, "logs", "launcher.log")).Count(l => l.Contains(" launch: ", StringComparison.Ordinal));
        Assert.Equal(1, launches);
        Assert.True(ClusterCliTests.SpinUntil(() => ProcessTree.Mentioning(output).Count == 0, TimeSpan.FromSeconds(10)), "a worker outlived the job");
    }

    [RedisFact]
    public void Cancel_through_the_surviving_silo_kills_the_adopted_gang()
    {
        using var dir = new TempDirectory();
        using var redis = RedisServer.Start(dir.Path);
        using var first = StartSilo(dir, redis, "a");
        using var second = StartSilo(dir, redis, "b");
        var spec = CliSpecs.Write(dir, ControlPlaneSpecs.Synthetic("cp-adopt-cancel", epochs: 500), "job.yaml");
        var output = Path.Combine(dir.Path, "runs", "run"); // under the silos' runs_root (their working directory's runs/)
        Assert.Equal(0, Cli(dir, first, "submit", spec, "--workers", "2", "--out", output).ExitCode);
        WaitFor(dir, first, "cp-adopt-cancel", s => s.Contains("│ step ", StringComparison.Ordinal));
        var supervisor = Assert.Single(ProcessTree.Mentioning("gang-exec"), pid => ProcessTree.Mentioning(output).Contains(pid));
        var host = ProcessTree.ParentOf(supervisor) == first.ProcessId ? first : second;
        var survivor = host == first ? second : first;
        host.Kill();
        // Heartbeats reach the grain on the survivor: it has adopted the gang.
        WaitFor(dir, survivor, "cp-adopt-cancel", s => s.Contains("running", StringComparison.Ordinal) && s.Contains("│ step ", StringComparison.Ordinal));

        var cancelled = Cli(dir, survivor, "cancel", "cp-adopt-cancel");

        Assert.True(cancelled.ExitCode == 0, cancelled.ToString());
        Assert.True(ClusterCliTests.SpinUntil(() => ProcessTree.Mentioning(output).Count == 0, TimeSpan.FromSeconds(10)), "the adopted gang outlived the cancel");
        Assert.Matches(@"│ phase\s+│ cancelled", Cli(dir, survivor, "status", "cp-adopt-cancel").Output);
    }

    [RedisFact]
    public void Sigterm_stops_a_silo_gracefully_and_kills_its_gangs()
    {
        using var dir = new TempDirectory();
        using var redis = RedisServer.Start(dir.Path);
        using var silo = StartSilo(dir, redis, "a");
        var spec = CliSpecs.Write(dir, ControlPlaneSpecs.Synthetic("cp-sigterm", epochs: 500), "job.yaml");
        var output = Path.Combine(dir.Path, "runs", "run"); // under the silos' runs_root (their working directory's runs/)
        Assert.Equal(0, Cli(dir, silo, "submit", spec, "--workers", "1", "--out", output).ExitCode);
        WaitFor(dir, silo, "cp-sigterm", s => s.Contains("│ step ", StringComparison.Ordinal));

        Assert.True(silo.Terminate(TimeSpan.FromSeconds(30)), "the silo did not stop within 30 s of SIGTERM");

        Assert.Equal(0, silo.ExitCode);
        Assert.Contains("silo stopped", silo.Output);
        Assert.True(ClusterCliTests.SpinUntil(() => ProcessTree.Mentioning(output).Count == 0, TimeSpan.FromSeconds(10)), "a gang outlived its silo's graceful stop");
    }

    [RedisFact]
    public void A_Redis_that_restarts_empty_mid_job_loses_no_job()
    {
        using var dir = new TempDirectory();
        var redis = RedisServer.Start(dir.Path);
        try
        {
            var slow = new Dictionary<string, string> { [Orchestrator.Trainer.Training.FaultInjection.StepDelayVariable] = "100" };
            using (var first = StartSilo(dir, redis, "a", environment: slow))
            using (var second = StartSilo(dir, redis, "b", environment: slow))
            {
                // One job finished before the loss (its grains idle), one running through it.
                var done = CliSpecs.Write(dir, ControlPlaneSpecs.Synthetic("cp-redis-before", epochs: 1), "before.yaml");
                Assert.Equal(0, Cli(dir, first, "submit", done, "--workers", "1").ExitCode);
                WaitFor(dir, first, "cp-redis-before", s => s.Contains("succeeded", StringComparison.Ordinal));
                // Long enough (about 30 s at 100 ms a step) that a loaded machine's slow status calls still see it running.
                var spec = CliSpecs.Write(dir, ControlPlaneSpecs.Synthetic("cp-redis-loss", epochs: 6), "job.yaml");
                Assert.Equal(0, Cli(dir, first, "submit", spec, "--workers", "1").ExitCode);
                WaitFor(dir, first, "cp-redis-loss", s => s.Contains("│ step ", StringComparison.Ordinal));

                redis = redis.RestartEmpty(dir.Path); // every key is gone: membership, job state, registry, scheduler, reminders

                // Both silos notice, put membership back and keep running (neither finds itself missing and stops).
                Assert.True(ClusterCliTests.SpinUntil(() => first.Output.Contains("redis: recovered", StringComparison.Ordinal)
                    && second.Output.Contains("redis: recovered", StringComparison.Ordinal), TimeSpan.FromSeconds(30)),
                    $"a silo did not report the recovery\na:\n{first.Output}\nb:\n{second.Output}");
                Assert.Contains("membership was gone", first.Output + second.Output);
                // Clients that find gateways in Redis reach the cluster again.
                var table = CliRunner.Run(dir.Path, ["status", "--redis", redis.Endpoint, "--cluster", ClusterId], Limit);
                Assert.True(table.ExitCode == 0, table.ToString());
                Assert.Matches(@"│ cp-redis-before\s+│ succeeded", table.Output);

                var end = WaitFor(dir, second, "cp-redis-loss", s => s.Contains("succeeded", StringComparison.Ordinal) || s.Contains("failed", StringComparison.Ordinal));
                Assert.Matches(@"│ phase\s+│ succeeded", end);
                Assert.False(first.HasExited || second.HasExited, $"a silo stopped\na:\n{first.Output}\nb:\n{second.Output}");
            }
            // A new silo knows the jobs only from Redis: the grains wrote their state back.
            using var fresh = StartSilo(dir, redis, "c");
            var listed = Cli(dir, fresh, "status");
            Assert.True(listed.ExitCode == 0, listed.ToString());
            Assert.Matches(@"│ cp-redis-before\s+│ succeeded", listed.Output);
            Assert.Matches(@"│ cp-redis-loss\s+│ succeeded", listed.Output);
        }
        finally
        {
            redis.Dispose();
        }
    }

    [RedisFact]
    public void Two_clusters_on_one_Redis_never_see_each_others_jobs()
    {
        using var dir = new TempDirectory();
        using var redis = RedisServer.Start(dir.Path);
        using var blue = StartSilo(dir, redis, "blue", "cp-blue");
        using var green = StartSilo(dir, redis, "green", "cp-green");
        var spec = CliSpecs.Write(dir, ControlPlaneSpecs.Synthetic("cp-same-name", epochs: 500), "job.yaml");

        Assert.Equal(0, Cli(dir, blue, "submit", spec, "--workers", "1", "--cluster", "cp-blue").ExitCode);
        var table = Cli(dir, green, "status", "--cluster", "cp-green");
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Contains("no jobs submitted yet", table.Output);
        // The same name is free in the other cluster: no "already exists" from the blue cluster's state.
        var again = Cli(dir, green, "submit", spec, "--workers", "1", "--cluster", "cp-green", "--out", Path.Combine(dir.Path, "runs", "green"));
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Equal(0, Cli(dir, blue, "cancel", "cp-same-name", "--cluster", "cp-blue").ExitCode);
        Assert.Matches(@"│ phase\s+│ running|│ phase\s+│ launching|│ phase\s+│ pending", Cli(dir, green, "status", "cp-same-name", "--cluster", "cp-green").Output);
        Assert.Equal(0, Cli(dir, green, "cancel", "cp-same-name", "--cluster", "cp-green").ExitCode);
    }

    private static UpSilo StartSilo(TempDirectory dir, RedisServer redis, string name, string clusterId = ClusterId,
        Dictionary<string, string>? environment = null)
    {
        var port = FreePorts.Consecutive(2);
        return UpSilo.Start(dir.Path,
            $"cluster: {{id: {clusterId}, redis: '{redis.Endpoint}'}}\nsilo: {{port: {port}, gateway_port: {port + 1}}}\nslots: 2\n",
            $"silo-{name}.yaml", environment: environment);
    }

    /// <summary>Runs the CLI against <paramref name="silo"/>; the cluster id is <see cref="ClusterId"/> unless the arguments pass their own.</summary>
    private static CliResult Cli(TempDirectory dir, UpSilo silo, params string[] args) =>
        CliRunner.Run(dir.Path, args.Contains("--cluster") ? [.. args, "--silo", silo.Gateway] : [.. args, "--silo", silo.Gateway, "--cluster", ClusterId], Limit);

    /// <summary>Polls <c>status JOB</c> on <paramref name="silo"/> until its output satisfies <paramref name="done"/>; returns that output.</summary>
    private static string WaitFor(TempDirectory dir, UpSilo silo, string job, Func<string, bool> done, TimeSpan? limit = null)
    {
        CliResult last = null!;
        var ok = ClusterCliTests.SpinUntil(() =>
        {
            last = Cli(dir, silo, "status", job);
            return last.ExitCode == 0 && done(last.Output);
        }, limit ?? TimeSpan.FromSeconds(60));
        Assert.True(ok, $"status {job} never matched; last:\n{last}\nsilo output:\n{silo.Output}");
        return last.Output;
    }
}
