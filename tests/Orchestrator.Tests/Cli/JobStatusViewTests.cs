using Orchestrator.Contracts.Models;
using Orchestrator.Silos.Terminal;
using Spectre.Console;

namespace Orchestrator.Tests.Cli;

/// <summary>What <c>status JOB</c> prints: throughput, the step-time split (ms and %) and each rank's heartbeat age.</summary>
public sealed class JobStatusViewTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 12, 0, 10, TimeSpan.Zero);

    private static (IAnsiConsole Console, StringWriter Text) Recording()
    {
        var text = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(text),
        });
        console.Profile.Width = 200;
        return (console, text);
    }

    private static WorkerHeartbeat Beat(int rank, long step, double compute, double compression, double communication) =>
        new(2, step, 2048, 0.25, compute + compression + communication, 300 + rank, rank, compute, compression, communication);

    [Fact]
    public void The_split_is_shown_in_ms_and_percent_and_omitted_when_the_heartbeat_has_none()
    {
        var beat = Beat(0, 10, 0.080, 0.005, 0.015);
        Assert.Equal("compute 80.0 ms (80%) / compression 5.0 ms (5%) / communication 15.0 ms (15%)", JobStatusView.StepSplit(beat));
        Assert.Equal("compute 80% / compression 5% / communication 15%", JobStatusView.StepSplitPercent(beat));
        var old = new WorkerHeartbeat(1, 3, 100, 0.5, 0.1, 42);
        Assert.Null(JobStatusView.StepSplit(old));
        Assert.Null(JobStatusView.StepSplitPercent(old));
    }

    [Fact]
    public void One_job_shows_throughput_the_step_split_and_every_ranks_heartbeat_age()
    {
        var rank0 = new HeartbeatInfo(Beat(0, 120, 0.080, 0.005, 0.015), Now.AddSeconds(-0.5), Now.AddSeconds(-1));
        var rank1 = new HeartbeatInfo(Beat(1, 119, 0.070, 0.004, 0.026), Now.AddSeconds(-3.2), Now.AddSeconds(-4));
        var job = new JobStatus("train-a", JobPhase.Running, 2, null, 0, 3, null, null,
            [new JobTransition(JobPhase.Pending, JobPhase.Pending, Now.AddMinutes(-1), "submitted")], rank0, [rank0, rank1]);
        var (console, text) = Recording();

        JobStatusView.Print(console, job, Now);

        var output = text.ToString();
        Assert.Contains("2,048 samples/s", output);
        Assert.Contains("100.0 ms", output); // step time
        Assert.Contains("compute 80.0 ms (80%) / compression 5.0 ms (5%) / communication 15.0 ms (15%)", output);
        Assert.Contains("0.5 s ago (launch 2, rank 0, pid 300)", output);
        var rankRow = output.Split('\n').Single(l => l.Contains(" 301 ", StringComparison.Ordinal));
        Assert.Matches(@"│\s*1\s*│\s*119\s*│\s*training\s*│\s*3\.2 s ago\s*│\s*100\.0\s*│\s*70\.0\s*│\s*4\.0\s*│\s*26\.0\s*│\s*301\s*│", rankRow);
        Assert.Contains("pending (submitted)", output);
    }

    [Fact]
    public void A_job_without_heartbeats_shows_no_heartbeat_rows()
    {
        var job = new JobStatus("train-b", JobPhase.Pending, 2, null, 0, 3, null, null, []);
        var (console, text) = Recording();

        JobStatusView.Print(console, job, Now);
        JobStatusView.PrintList(console, [job], Now);

        var output = text.ToString();
        Assert.DoesNotContain("step split", output);
        Assert.DoesNotContain("compute ms", output);
        Assert.Contains("train-b", output);
    }
}
