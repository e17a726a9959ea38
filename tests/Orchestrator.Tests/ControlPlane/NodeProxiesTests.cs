using Orchestrator.Scheduler.Launchers;

namespace Orchestrator.Tests.ControlPlane;

/// <summary>The node side of launching without SSH: proxies started for a job, waited for and killed.</summary>
public sealed class NodeProxiesTests
{
    [Fact]
    public async Task A_wait_for_an_ended_proxy_gives_its_code_again_so_a_caller_that_lost_the_answer_can_retry()
    {
        using var dir = new TempDirectory();
        using var proxies = new NodeProxies("node1");
        var pid = proxies.Start("job", 1, ["/bin/sh", "-c", "echo hello; exit 7"], dir.Path);

        int? code = null;
        for (int i = 0; i < 100 && code is null; i++) code = await proxies.WaitAsync(pid, TimeSpan.FromMilliseconds(200));

        Assert.Equal(7, code);
        Assert.Equal(7, await proxies.WaitAsync(pid, TimeSpan.FromMilliseconds(10)));
        Assert.Empty(proxies.Running);
        Assert.Contains("[node1] hello", File.ReadAllText(proxies.LogPath(dir.Path)));
        await Assert.ThrowsAsync<KeyNotFoundException>(() => proxies.WaitAsync(pid + 100_000, TimeSpan.Zero));
    }

    [Fact]
    public async Task A_running_proxy_is_reported_running_until_its_job_is_killed()
    {
        using var dir = new TempDirectory();
        using var proxies = new NodeProxies("node2");
        var pid = proxies.Start("job", 3, ["/bin/sh", "-c", "sleep 60"], dir.Path);

        Assert.Null(await proxies.WaitAsync(pid, TimeSpan.FromMilliseconds(50)));
        Assert.Equal([("job", 3, pid)], proxies.Running);
        Assert.Equal(0, await proxies.KillJobAsync("other"));
        Assert.Equal(1, await proxies.KillJobAsync("job"));
        Assert.Empty(proxies.Running);
    }
}
