using Orchestrator.Scheduler.Launchers;

namespace Orchestrator.Tests.Scheduler;

/// <summary>The failure reason a job shows comes from its workers' own error lines in the launcher log.</summary>
public sealed class LauncherLogTests
{
    [Fact]
    public void The_newest_launchs_error_lines_are_found_once_each_without_rank_prefixes()
    {
        using var dir = new TempDirectory();
        var log = dir.File("launcher.log");
        File.WriteAllLines(log,
        [
            "# 2026-12-03T00:00:00Z launch: mpiexec -n 2 ...",
            "[0] error (rank 0): an old launch's error",
            "# 2026-12-03T00:01:00Z exit code 2",
            "# 2026-12-03T00:02:00Z launch: mpiexec -n 2 ...",
            "[0] epoch 1/1 step 3/16 loss 2.3",
            "[1] error (rank 1): data.root: /nowhere does not exist",
            "[0] error (rank 0): data.root: /nowhere does not exist",
            "[0] rank 0 failed: System.InvalidOperationException: parameters diverged across workers at step 6",
            "[1]    at Orchestrator.Trainer.Something()",
            "# 2026-12-03T00:03:00Z exit code 2",
        ]);

        Assert.Equal("data.root: /nowhere does not exist | System.InvalidOperationException: parameters diverged across workers at step 6",
            LauncherLog.LastErrors(log));
    }

    [Fact]
    public void A_log_without_errors_or_without_a_file_gives_none_and_a_long_error_is_shortened()
    {
        using var dir = new TempDirectory();
        Assert.Null(LauncherLog.LastErrors(dir.File("missing.log")));
        var log = dir.File("launcher.log");
        File.WriteAllLines(log, ["# t launch: x", "[0] step 1", "[0] error: " + new string('x', 2000)]);
        var error = LauncherLog.LastErrors(log)!;
        Assert.Equal(LauncherLog.MaxErrorLength, error.Length);
        Assert.EndsWith("...", error);
        File.WriteAllLines(log, ["# t launch: x", "[0] step 1"]);
        Assert.Null(LauncherLog.LastErrors(log));
    }

    [Fact]
    public void Lines_of_a_gang_across_nodes_carry_rank_and_host_and_are_read_like_rank_lines()
    {
        using var dir = new TempDirectory();
        var log = dir.File("launcher.log");
        File.WriteAllLines(log,
        [
            "# 2026-12-04T00:00:00Z launch: mpirun.mpich -launcher rsh ...",
            "[0@10.0.0.1] rank 0 of 2 on host node1 (local rank 0 of 1)",
            "[1@10.0.0.2] rank 1 of 2 on host node2 (local rank 0 of 1)",
            "[12@10.0.0.2] error (rank 12): out of memory",
            "[1@10.0.0.2] error (rank 1): data.root: /data/fmnist does not exist on this node",
        ]);

        Assert.Equal(["rank 1 of 2 on host node2 (local rank 0 of 1)", "error (rank 1): data.root: /data/fmnist does not exist on this node"],
            LauncherLog.Tail(log, 1, 0).Lines.ToArray());
        Assert.Equal(5, LauncherLog.Tail(log, null, 0).Lines.Length);
        Assert.Equal("out of memory | data.root: /data/fmnist does not exist on this node", LauncherLog.LastErrors(log));
    }
}
