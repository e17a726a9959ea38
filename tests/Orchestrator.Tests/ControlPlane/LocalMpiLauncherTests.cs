using Orchestrator.Scheduler.Launchers;

namespace Orchestrator.Tests.ControlPlane;

/// <summary>The <c>local-mpi</c> launcher alone: real <c>mpirun.mpich</c> gangs of the tiny synthetic job.</summary>
public sealed class LocalMpiLauncherTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(2);

    private static LaunchRequest Request(TempDirectory dir, int workers, params string[] extra)
    {
        var spec = dir.File("job.yaml");
        File.WriteAllText(spec, ControlPlaneSpecs.Synthetic());
        return new LaunchRequest("cp-test", workers, spec, Path.Combine(dir.Path, "run"), extra);
    }

    /// <summary>Waits for the gang's exit under a hard limit; on timeout kills the whole tree and fails.</summary>
    private static async Task<int> ExitOfAsync(ILaunchedJob job)
    {
        var done = await Task.WhenAny(job.Exited, Task.Delay(Limit));
        if (done == job.Exited) return await job.Exited;
        await job.KillAsync();
        Assert.Fail($"the gang ran longer than {Limit} and was killed");
        return -1;
    }

    [Fact]
    public async Task Two_workers_exit_0_write_the_run_and_a_rank_prefixed_log()
    {
        using var dir = new TempDirectory();
        var request = Request(dir, 2);
        Directory.CreateDirectory(request.OutputDirectory);
        using var job = ControlPlaneSpecs.Launcher().Launch(request);

        Assert.True(job.ProcessId > 0);
        var code = await ExitOfAsync(job);

        var log = File.ReadAllText(request.LogPath);
        Assert.True(code == 0, $"exit {code}\n{log}");
        Assert.True(File.Exists(Path.Combine(request.OutputDirectory, "summary.json")), log);
        Assert.Contains("-prepend-rank", log);
        Assert.Contains("[0] ", log);
        Assert.Contains("# ", log.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]); // exit line written last
        Assert.EndsWith("exit code 0", log.TrimEnd());
    }

    [Fact]
    public async Task A_worker_that_dies_makes_the_gang_exit_non_zero()
    {
        using var dir = new TempDirectory();
        var request = Request(dir, 2, "--die-at", "3:1");
        Directory.CreateDirectory(request.OutputDirectory);
        using var job = ControlPlaneSpecs.Launcher().Launch(request);

        var code = await ExitOfAsync(job);

        Assert.True(code != 0, File.ReadAllText(request.LogPath));
    }

    [Fact]
    public async Task Bad_train_arguments_exit_non_zero()
    {
        using var dir = new TempDirectory();
        var request = Request(dir, 1, "--no-such-option");
        Directory.CreateDirectory(request.OutputDirectory);
        using var job = ControlPlaneSpecs.Launcher().Launch(request);

        Assert.NotEqual(0, await ExitOfAsync(job));
    }

    [Fact]
    public void A_missing_mpirun_raises_LaunchException_naming_it()
    {
        using var dir = new TempDirectory();
        var request = Request(dir, 1);
        var launcher = new LocalMpiLauncher(ControlPlaneSpecs.Launcher().Options with { Mpirun = "/nonexistent/mpirun.mpich", UseSetsid = false });

        var e = Assert.Throws<LaunchException>(() => launcher.Launch(request));
        Assert.Contains("/nonexistent/mpirun.mpich", e.Message);
    }

    [Fact]
    public async Task Kill_stops_the_whole_gang_without_orphans()
    {
        using var dir = new TempDirectory();
        var spec = dir.File("long.yaml");
        File.WriteAllText(spec, ControlPlaneSpecs.Synthetic(epochs: 100_000));
        var request = new LaunchRequest("cp-long", 2, spec, Path.Combine(dir.Path, "run"), []);
        Directory.CreateDirectory(request.OutputDirectory);
        using var job = ControlPlaneSpecs.Launcher().Launch(request);
        try
        {
            var metrics = Path.Combine(request.OutputDirectory, "metrics.jsonl");
            var deadline = DateTime.UtcNow + Limit;
            while (!File.Exists(metrics) && !job.Exited.IsCompleted && DateTime.UtcNow < deadline)
                await Task.Delay(100);
            Assert.True(File.Exists(metrics), File.ReadAllText(request.LogPath));
            Assert.True(ControlPlaneSpecs.AnyProcessMentions(spec));
        }
        finally
        {
            var killed = await job.KillAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.NotEqual(0, killed);
        }
        var gone = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (ControlPlaneSpecs.AnyProcessMentions(spec) && DateTime.UtcNow < gone)
            await Task.Delay(100);
        Assert.False(ControlPlaneSpecs.AnyProcessMentions(spec), "a worker of the killed gang is still alive");
    }
}
