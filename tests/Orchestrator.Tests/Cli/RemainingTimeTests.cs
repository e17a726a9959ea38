using Orchestrator.Silos.Terminal;

namespace Orchestrator.Tests.Cli;

/// <summary>The ETA of the plain progress lines.</summary>
public sealed class RemainingTimeTests
{
    [Fact]
    public void First_step_seen_is_estimated_from_its_own_duration()
    {
        var remaining = new RemainingTime(totalSteps: 10);

        // 30 s of start-up before step 1 must not count: only the step's own 2 s does.
        Assert.Equal(TimeSpan.FromSeconds(18), remaining.Update(step: 1, elapsed: 32, stepSeconds: 2));
    }

    [Fact]
    public void Later_steps_are_estimated_from_the_wall_clock_since_the_first_step_seen()
    {
        var remaining = new RemainingTime(totalSteps: 100);
        remaining.Update(step: 1, elapsed: 30, stepSeconds: 1);
        remaining.Update(step: 5, elapsed: 34, stepSeconds: 1);

        // Steps 2..11 took 20 s of wall clock (an evaluation included) although each step alone took 1 s:
        // 2 s a step for the 89 steps left.
        Assert.Equal(TimeSpan.FromSeconds(178), remaining.Update(step: 11, elapsed: 50, stepSeconds: 1));
    }

    [Fact]
    public void Resumed_run_counts_from_the_step_it_resumed_at()
    {
        var remaining = new RemainingTime(totalSteps: 1000);
        remaining.Update(step: 901, elapsed: 5, stepSeconds: 0.5);

        // 10 steps in 5 s since step 901: 0.5 s for each of the 89 left (not 10 s over 911 steps).
        Assert.Equal(TimeSpan.FromSeconds(44.5), remaining.Update(step: 911, elapsed: 10, stepSeconds: 0.5));
    }

    [Fact]
    public void Last_step_leaves_nothing()
    {
        var remaining = new RemainingTime(totalSteps: 4);
        remaining.Update(step: 1, elapsed: 1, stepSeconds: 1);

        Assert.Equal(TimeSpan.Zero, remaining.Update(step: 4, elapsed: 4, stepSeconds: 1));
    }

    [Theory]
    [InlineData(0, "0:00")]
    [InlineData(59.4, "0:59")]
    [InlineData(59.6, "1:00")]
    [InlineData(754, "12:34")]
    [InlineData(3600, "1:00:00")]
    [InlineData(90061, "25:01:01")]
    public void Format_is_minutes_and_seconds_then_hours(double seconds, string text)
    {
        Assert.Equal(text, RemainingTime.Format(TimeSpan.FromSeconds(seconds)));
    }
}
