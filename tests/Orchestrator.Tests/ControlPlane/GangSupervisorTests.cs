using Orchestrator.Scheduler.Launchers;
using Orchestrator.Spec;

namespace Orchestrator.Tests.ControlPlane;

/// <summary>The gang supervisor (output to the log, exit code to a file) and the supervised launch command line.</summary>
public sealed class GangSupervisorTests
{
    [Fact]
    public void The_program_output_goes_to_the_log_and_its_exit_code_to_the_file()
    {
        using var dir = new TempDirectory();
        var log = Path.Combine(dir.Path, "logs", "launcher.log");
        var exit = Path.Combine(dir.Path, "logs", "launch-1.exit");

        var code = GangSupervisor.Run(log, exit, ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"]);

        Assert.Equal(3, code);
        var text = File.ReadAllText(log);
        Assert.Contains("out\n", text);
        Assert.Contains("err\n", text);
        Assert.Contains("exit code 3", text);
        Assert.Equal(3, GangSupervisor.ReadExitCode(exit));
        Assert.False(File.Exists(exit + ".tmp"));
    }

    [Fact]
    public void A_missing_program_is_logged_and_recorded_as_127()
    {
        using var dir = new TempDirectory();
        var log = dir.File("launcher.log");
        var exit = dir.File("launch-1.exit");

        var code = GangSupervisor.Run(log, exit, ["/nonexistent/mpirun"]);

        Assert.Equal(GangSupervisor.NotStarted, code);
        Assert.Contains("could not start /nonexistent/mpirun", File.ReadAllText(log));
        Assert.Equal(127, GangSupervisor.ReadExitCode(exit));
    }

    [Fact]
    public void No_exit_code_is_read_while_the_gang_runs()
    {
        using var dir = new TempDirectory();

        Assert.Null(GangSupervisor.ReadExitCode(dir.File("launch-1.exit")));
    }

    [Fact]
    public void A_supervised_launch_runs_mpirun_under_gang_exec_with_the_log_and_exit_file_as_an_argument_array()
    {
        var options = new LocalMpiOptions("/x/orchestrator.dll", "dotnet", UseSetsid: false, Supervisor: ["dotnet", "/x/orchestrator.dll", "gang-exec"]);
        var request = new LaunchRequest("j", 2, "/r/job.yaml", "/r", [], null, RunLayout.LaunchExitCode("/r", 2));

        var argv = options.CommandLine(request);

        Assert.Equal(["dotnet", "/x/orchestrator.dll", "gang-exec", "--log", "/r/logs/launcher.log", "--exit-file", "/r/logs/launch-2.exit", "--",
            "mpirun.mpich", "-prepend-rank", "-np", "2", "-localhost", "127.0.0.1", "dotnet", "/x/orchestrator.dll", "train", "/r/job.yaml", "--out", "/r"], argv);
        Assert.True(options.IsSupervised(request));
        Assert.False(new LocalMpiOptions("/x/orchestrator.dll", "dotnet").IsSupervised(request)); // run's embedded silo: mpirun directly
    }
}
