using Orchestrator.Silos.Hosting;
using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace Orchestrator.Tests.ControlPlane;

public sealed class UndeliveredCallRetryTests
{
    [Fact]
    public async Task A_read_undelivered_while_a_silo_is_lost_is_retried_until_it_answers()
    {
        var retry = new UndeliveredCallRetry(TimeSpan.FromSeconds(10));
        var attempts = 0;
        var answer = await retry.RunAsync(() =>
        {
            attempts++;
            return attempts switch
            {
                1 => throw new ConnectionFailedException("Unable to connect to S10.0.0.2:11111:1"),
                2 => throw new OrleansException("Exception while sending message", new ConnectionFailedException("Unable to connect")),
                3 => throw new SiloUnavailableException("The target silo became unavailable"),
                _ => Task.FromResult(42),
            };
        });
        Assert.Equal(42, answer);
        Assert.Equal(4, attempts);
    }

    [Fact]
    public async Task Any_other_failure_is_reported_at_once()
    {
        var retry = new UndeliveredCallRetry(TimeSpan.FromSeconds(10));
        var attempts = 0;
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => retry.RunAsync<int>(() =>
        {
            attempts++;
            throw new InvalidOperationException("job 'x' is not known");
        }));
        Assert.Equal("job 'x' is not known", error.Message);
        Assert.Equal(1, attempts);
        await Assert.ThrowsAsync<TimeoutException>(() => retry.RunAsync<int>(() => throw new TimeoutException()));
    }

    [Fact]
    public async Task A_silo_that_never_comes_back_is_reported_after_the_ride_out_with_the_last_failure()
    {
        var retry = new UndeliveredCallRetry(TimeSpan.FromMilliseconds(800));
        var attempts = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<ConnectionFailedException>(() => retry.RunAsync<int>(() =>
        {
            attempts++;
            throw new ConnectionFailedException($"attempt {attempts}");
        }));
        Assert.Equal($"attempt {attempts}", error.Message);
        Assert.True(attempts >= 2, $"{attempts} attempts");
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(800), $"gave up after {clock.Elapsed}");
        Assert.Throws<ArgumentOutOfRangeException>(() => new UndeliveredCallRetry(TimeSpan.Zero));
    }
}
