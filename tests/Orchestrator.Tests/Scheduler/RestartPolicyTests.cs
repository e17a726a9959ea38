using Orchestrator.Scheduler.Lifecycle;

namespace Orchestrator.Tests.Scheduler;

public sealed class RestartPolicyTests
{
    [Theory]
    [InlineData(1, 1.0)]
    [InlineData(2, 2.0)]
    [InlineData(3, 4.0)]
    [InlineData(6, 32.0)]
    [InlineData(7, 60.0)]
    [InlineData(1000, 60.0)]
    public void Backoff_doubles_from_the_base_and_is_capped(int attempt, double seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), RestartPolicy.Default.Delay(attempt));

    [Theory]
    [InlineData(3, 0, true)]
    [InlineData(3, 2, true)]
    [InlineData(3, 3, false)]
    [InlineData(0, 0, false)]
    public void Restarts_are_bounded(int max, int soFar, bool allowed) =>
        Assert.Equal(allowed, new RestartPolicy(max, TimeSpan.Zero, TimeSpan.Zero).CanRestart(soFar));

    [Fact]
    public void Bad_settings_and_attempts_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RestartPolicy(-1, TimeSpan.Zero, TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RestartPolicy(1, TimeSpan.FromSeconds(-1), TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RestartPolicy(1, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => RestartPolicy.Default.Delay(0));
    }
}
