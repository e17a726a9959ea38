using System.Diagnostics;
using Orchestrator.Tests.Cli;
using Orchestrator.Tests.Observability;

namespace Orchestrator.Tests.ControlPlane;

/// <summary>One real <c>orchestrator up</c> (single silo, memory storage) on free loopback ports, shared by <see cref="ClusterCliTests"/>.</summary>
public sealed class SingleSiloFixture : IDisposable
{
    public const string ClusterId = "cp-cli";

    private readonly TempDirectory dir = new();

    public SingleSiloFixture()
    {
        var port = FreePorts.Consecutive(2);
        Silo = UpSilo.Start(dir.Path, $"cluster: {{id: {ClusterId}}}\nsilo: {{port: {port}, gateway_port: {port + 1}}}\nslots: 2\nruns_root: runs\n");
    }

    internal UpSilo Silo { get; }

    public string Directory => dir.Path;

    public void Dispose()
    {
        Silo.Dispose();
        dir.Dispose();
    }
}

/// <summary>
/// The client commands against a real <c>up</c> process: submit, status (table, detail, watch), logs, cancel, and the
/// answers to bad input (invalid spec, duplicate name, scale to 0, unknown job, a silo that is not there).
/// </summary>
public sealed class ClusterCliTests(SingleSiloFixture fixture) : IClassFixture<SingleSiloFixture>
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);

    private CliResult Cli(params string[] args) =>
        CliRunner.Run(fixture.Directory, [.. args, "--silo", fixture.Silo.Gateway, "--cluster", SingleSiloFixture.ClusterId], Limit);

    private string Spec(string name, int epochs = 1)
    {
        var path = Path.Combine(fixture.Directory, $"{name}.yaml");
        File.WriteAllText(path, ControlPlaneSpecs.Synthetic(name, epochs));
        return path;
    }

    [Fact]
    public void Submit_then_watch_status_logs_and_the_job_table()
    {
        var spec = Spec("cl-ok");

        var submitted = Cli("submit", spec, "--workers", "2");
        Assert.True(submitted.ExitCode == 0, submitted.ToString());
        Assert.Contains("submitted job cl-ok: 2 workers", submitted.Output);

        var watched = Cli("status", "cl-ok", "--watch");
        Assert.True(watched.ExitCode == 0, watched.ToString());
        Assert.Contains("succeeded", watched.Output);
        Assert.Contains("all workers exited with code 0", watched.Output);

        var table = Cli("status");
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Matches(@"│ cl-ok\s+│ succeeded", table.Output);

        var all = Cli("logs", "cl-ok", "--tail", "0");
        Assert.True(all.ExitCode == 0, all.ToString());
        Assert.Contains("[0] ", all.Output);
        Assert.Contains("ORCHESTRATOR_GATEWAY", all.Output); // the launch line
        Assert.Contains("exit code 0", all.Output); // written by the gang's supervisor

        var rank0 = Cli("logs", "cl-ok", "--rank", "0", "--tail", "3");
        Assert.True(rank0.ExitCode == 0, rank0.ToString());
        var lines = rank0.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.DoesNotContain(lines, l => l.StartsWith("[0]", StringComparison.Ordinal));

        Assert.True(File.Exists(Path.Combine(fixture.Directory, "runs", "cl-ok", "summary.json")), "runs_root/<name> is the default run directory");
    }

    [Fact]
    public void A_run_directory_outside_the_silos_runs_root_is_refused_and_nothing_is_submitted()
    {
        var spec = Spec("cl-escape");
        foreach (var outside in new[] { "/", Path.Combine(fixture.Directory, "elsewhere"), Path.Combine(fixture.Directory, "runs", "..", "x"), Path.Combine(fixture.Directory, "runs") })
        {
            var refused = Cli("submit", spec, "--out", outside);
            Assert.True(refused.ExitCode == 2, refused.ToString());
            Assert.Contains("is not under this silo's runs_root", refused.Output);
            Assert.DoesNotContain("   at ", refused.Output);
        }
        var status = Cli("status", "cl-escape");
        Assert.Equal(2, status.ExitCode);
        Assert.Contains("unknown job", status.Output);
    }

    [Fact]
    public void A_running_local_job_listens_on_loopback_only()
    {
        var spec = Spec("cl-loopback", epochs: 500);
        var output = Path.Combine(fixture.Directory, "runs", "loopback-run");
        Assert.Equal(0, Cli("submit", spec, "--workers", "2", "--out", output).ExitCode);
        WaitForSteps("cl-loopback");
        try
        {
            var processes = ProcessTree.Mentioning(output);
            // Hydra's mpiexec (its control socket, inherited by proxies and ranks), the ranks' MPI (UCX) and metrics listeners.
            var own = ListeningSockets.Of(processes);
            Assert.Contains(own, s => ProcessTree.CommandOf(s.Pid).Contains("mpirun", StringComparison.Ordinal));
            Assert.True(own.Count > 1, "no rank listener found");
            Assert.All(own, s => Assert.True(s.IsLoopback, $"pid {s.Pid} ({ProcessTree.CommandOf(s.Pid)}) listens on {s.Address}:{s.Port}"));
        }
        finally
        {
            Cli("cancel", "cl-loopback");
        }
    }

    [Fact]
    public void Cancel_stops_a_running_job_and_its_workers_and_a_second_cancel_is_refused()
    {
        var spec = Spec("cl-cancel", epochs: 500);
        var output = Path.Combine(fixture.Directory, "runs", "cancel-run");
        var submitted = Cli("submit", spec, "--workers", "2", "--out", output);
        Assert.True(submitted.ExitCode == 0, submitted.ToString());
        WaitForSteps("cl-cancel");

        var cancelled = Cli("cancel", "cl-cancel");
        Assert.True(cancelled.ExitCode == 0, cancelled.ToString());
        Assert.Contains("cancelled", cancelled.Output);
        Assert.True(SpinUntil(() => ProcessTree.Mentioning(output).Count == 0, TimeSpan.FromSeconds(10)), "a worker outlived the cancel");

        var again = Cli("cancel", "cl-cancel");
        Assert.True(again.ExitCode == 2, again.ToString());
        Assert.Contains("job 'cl-cancel' already cancelled; there is nothing to cancel", again.Output);
        Assert.DoesNotContain("   at ", again.Output);
    }

    [Fact]
    public void An_invalid_spec_lists_every_error_and_submits_nothing()
    {
        var spec = Spec("cl-bad");

        var result = Cli("submit", spec, "--workers", "2", "--set", "training.global_batch=63", "--set", "model.kind=nope");

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("2 errors", result.Output);
        Assert.Contains("training.global_batch", result.Output);
        Assert.Contains("model.kind", result.Output);
        var status = Cli("status", "cl-bad");
        Assert.True(status.ExitCode == 2, status.ToString());
        Assert.Contains("unknown job 'cl-bad'", status.Output);
    }

    [Fact]
    public void A_duplicate_name_and_more_workers_than_slots_are_refused_with_exit_2()
    {
        var spec = Spec("cl-dup");
        var first = Cli("submit", spec);
        Assert.True(first.ExitCode == 0, first.ToString());

        var duplicate = Cli("submit", spec);
        Assert.True(duplicate.ExitCode == 2, duplicate.ToString());
        Assert.Contains("job 'cl-dup' already exists", duplicate.Output);

        var tooMany = Cli("submit", spec, "--workers", "4", "--set", "name=cl-dup-4");
        Assert.True(tooMany.ExitCode == 2, tooMany.ToString());
        Assert.Contains("do not fit the cluster's 2 worker slots", tooMany.Output);
        Assert.DoesNotContain("   at ", duplicate.Output + tooMany.Output);
        Assert.Equal(0, Cli("status", "cl-dup", "--watch").ExitCode);
    }

    [Fact]
    public void Scale_to_0_or_of_a_finished_job_and_commands_on_an_unknown_job_are_one_line_errors_with_exit_2()
    {
        Assert.Equal(0, Cli("submit", Spec("cl-scale")).ExitCode);
        var scale = Cli("scale", "cl-scale", "--workers", "0");
        Assert.True(scale.ExitCode == 2, scale.ToString());
        Assert.Contains("--workers: must be 1..1024, got 0", scale.Output); // refused by the CLI, before the cluster is asked
        Assert.DoesNotContain("Parameter", scale.Output);
        Assert.Equal(0, Cli("status", "cl-scale", "--watch").ExitCode);
        var finished = Cli("scale", "cl-scale", "--workers", "1");
        Assert.True(finished.ExitCode == 2, finished.ToString()); // a finished job cannot rescale
        Assert.Contains("job 'cl-scale'", finished.Output);

        foreach (var args in new[] { new[] { "cancel", "cl-nobody" }, ["logs", "cl-nobody"], ["status", "cl-nobody"], ["scale", "cl-nobody", "--workers", "1"] })
        {
            var result = Cli(args);
            Assert.True(result.ExitCode == 2, result.ToString());
            Assert.Contains("unknown job 'cl-nobody'", result.Output);
            Assert.DoesNotContain("   at ", result.Output);
        }
    }

    [Fact]
    public void A_silo_that_is_not_there_is_reported_within_seconds()
    {
        var port = FreePorts.Consecutive(1);
        var clock = Stopwatch.StartNew();

        var result = CliRunner.Run(fixture.Directory, ["status", "--silo", $"127.0.0.1:{port}"], Limit);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains($"cannot reach the silo gateway at 127.0.0.1:{port}", result.Output);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }

    private void WaitForSteps(string job)
    {
        CliResult last = null!;
        var ok = SpinUntil(() =>
        {
            last = Cli("status", job);
            return last.Output.Contains("running", StringComparison.Ordinal) && last.Output.Contains("│ step ", StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(60));
        Assert.True(ok, $"job {job} never reported steps:\n{last}");
    }

    internal static bool SpinUntil(Func<bool> condition, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (DateTime.UtcNow < deadline)
        {
            if (condition()) return true;
            Thread.Sleep(500);
        }
        return condition();
    }
}
