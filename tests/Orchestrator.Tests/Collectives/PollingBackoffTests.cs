using Orchestrator.Trainer.Collectives;

namespace Orchestrator.Tests.Collectives;

public sealed class PollingBackoffTests
{
    [Fact]
    public void Spins_first_then_doubles_the_pause_up_to_the_longest()
    {
        var backoff = new PollingBackoff();
        var pauses = Enumerable.Range(0, PollingBackoff.SpinningPolls + 20).Select(_ => backoff.Next()).ToList();

        Assert.All(pauses.Take(PollingBackoff.SpinningPolls), p => Assert.Equal(TimeSpan.Zero, p));
        var sleeps = pauses.Skip(PollingBackoff.SpinningPolls).ToList();
        Assert.Equal(PollingBackoff.FirstSleep, sleeps[0]);
        for (int i = 1; i < sleeps.Count; i++)
            Assert.Equal(TimeSpan.FromTicks(Math.Min(2 * sleeps[i - 1].Ticks, PollingBackoff.LongestSleep.Ticks)), sleeps[i]);
        Assert.Equal(PollingBackoff.LongestSleep, sleeps[^1]);
    }
}
