using Orchestrator.Contracts.Models;
using Orchestrator.Scheduler.Lifecycle;

namespace Orchestrator.Tests.Scheduler;

public sealed class JobTransitionsTests
{
    [Fact]
    public void The_happy_path_with_a_rescale_is_legal()
    {
        var phase = JobPhase.Pending;
        foreach (var next in new[] { JobPhase.Launching, JobPhase.Running, JobPhase.Rescaling, JobPhase.Launching, JobPhase.Running, JobPhase.Succeeded })
            phase = JobTransitions.Move(phase, next);
        Assert.True(JobTransitions.IsTerminal(phase));
    }

    [Fact]
    public void Terminal_phases_never_move_and_every_phase_can_reach_one()
    {
        var terminal = Enum.GetValues<JobPhase>().Where(JobTransitions.IsTerminal).ToHashSet();
        Assert.Equal([JobPhase.Succeeded, JobPhase.Failed, JobPhase.Cancelled], terminal.Order());
        foreach (var from in terminal)
            Assert.All(Enum.GetValues<JobPhase>(), to => Assert.False(JobTransitions.CanMove(from, to)));
        foreach (var from in Enum.GetValues<JobPhase>().Except(terminal))
            Assert.True(JobTransitions.CanMove(from, JobPhase.Failed) && JobTransitions.CanMove(from, JobPhase.Cancelled), from.ToString());
    }

    [Theory]
    [InlineData(JobPhase.Pending, JobPhase.Running)]
    [InlineData(JobPhase.Pending, JobPhase.Succeeded)]
    [InlineData(JobPhase.Rescaling, JobPhase.Running)]
    [InlineData(JobPhase.Succeeded, JobPhase.Running)]
    public void Illegal_moves_are_rejected_naming_both_phases(JobPhase from, JobPhase to)
    {
        var error = Assert.Throws<InvalidOperationException>(() => JobTransitions.Move(from, to));
        Assert.Contains($"{from} -> {to}", error.Message);
    }
}
