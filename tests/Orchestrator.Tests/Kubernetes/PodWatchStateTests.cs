using Orchestrator.Scheduler.Kubernetes;

namespace Orchestrator.Tests.Kubernetes;

/// <summary>The list-then-watch bookkeeping: resourceVersions, re-watch after a stream ends, re-list after 410 Gone, backoff.</summary>
public sealed class PodWatchStateTests
{
    [Fact]
    public void It_lists_first_then_watches_from_the_newest_version_seen()
    {
        var state = new PodWatchState();
        Assert.Equal(new PodWatchStep(true, null, TimeSpan.Zero), state.Next());
        state.Listed("100");
        Assert.Equal(new PodWatchStep(false, "100", TimeSpan.Zero), state.Next());
        state.Observed("105");
        state.Observed(null); // an event without a version changes nothing
        state.Observed("107"); // a bookmark counts like any event
        state.Closed();
        Assert.Equal(new PodWatchStep(false, "107", TimeSpan.Zero), state.Next());
        Assert.Equal(1, state.Lists);
    }

    [Fact]
    public void Gone_forces_a_new_list_and_the_watch_resumes_from_its_version()
    {
        var state = new PodWatchState();
        state.Listed("100");
        state.Observed("120");
        state.Gone();
        Assert.Equal(new PodWatchStep(true, null, TimeSpan.Zero), state.Next());
        Assert.Null(state.ResourceVersion);
        state.Listed("300");
        Assert.Equal(new PodWatchStep(false, "300", TimeSpan.Zero), state.Next());
        Assert.Equal((2, 1), (state.Lists, state.GoneCount));
    }

    [Fact]
    public void Errors_back_off_doubling_to_a_cap_and_a_success_resets_it()
    {
        var state = new PodWatchState();
        state.Listed("1");
        var delays = new List<TimeSpan>();
        for (var i = 0; i < 8; i++)
        {
            state.Failed();
            var step = state.Next();
            Assert.Equal("1", step.From); // retries the same watch
            delays.Add(step.Delay);
        }
        Assert.Equal(TimeSpan.FromMilliseconds(500), delays[0]);
        Assert.Equal(TimeSpan.FromSeconds(1), delays[1]);
        Assert.All(delays.Zip(delays.Skip(1)), p => Assert.True(p.Second >= p.First));
        Assert.Equal(TimeSpan.FromSeconds(10), delays[^1]);
        state.Observed("2");
        Assert.Equal(TimeSpan.Zero, state.Next().Delay);
    }

    [Fact]
    public void A_list_without_a_version_is_listed_again_rather_than_watched_from_nowhere()
    {
        var state = new PodWatchState();
        state.Listed(null);
        Assert.True(state.Next().Relist);
    }
}
