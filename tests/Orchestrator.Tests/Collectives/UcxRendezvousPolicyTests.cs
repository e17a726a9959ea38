using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Collectives.Native;

namespace Orchestrator.Tests.Collectives;

public sealed class UcxRendezvousPolicyTests
{
    [Theory]
    [InlineData("tcp,self", false)]
    [InlineData("tcp,self", true)] // the site chose TCP although the machine has RDMA devices
    [InlineData("tcp", false)]
    [InlineData(" tcp , sm , self ", true)]
    [InlineData("TCP,posix,cma", true)]
    [InlineData(null, false)] // no RDMA device: UCX has only TCP between nodes
    [InlineData("", false)]
    [InlineData("all", false)]
    [InlineData("^ib", false)]
    public void Only_tcp_between_nodes_sends_eagerly(string? transports, bool rdmaDevices) =>
        Assert.Equal(UcxRendezvousPolicy.Eager, UcxRendezvousPolicy.ThresholdFor(null, transports, rdmaDevices));

    [Theory]
    [InlineData("rc,tcp,self", false)]
    [InlineData("ud,sm", false)]
    [InlineData("dc_x,self", true)]
    [InlineData(null, true)] // UCX would pick RDMA, whose rendezvous saves a copy
    [InlineData("all", true)]
    [InlineData("^tcp", true)]
    public void Rdma_between_nodes_keeps_the_rendezvous(string? transports, bool rdmaDevices) =>
        Assert.Null(UcxRendezvousPolicy.ThresholdFor(null, transports, rdmaDevices));

    [Theory]
    [InlineData("8kb")]
    [InlineData("auto")]
    [InlineData("inf")]
    public void A_threshold_the_site_set_always_wins(string threshold)
    {
        Assert.Null(UcxRendezvousPolicy.ThresholdFor(threshold, "tcp,self", rdmaDevices: false));
        Assert.Null(UcxRendezvousPolicy.ThresholdFor(threshold, null, rdmaDevices: false));
    }

    [Fact]
    public void The_native_environment_gets_the_value_once_and_keeps_one_already_there()
    {
        var name = $"ORCHESTRATOR_TEST_UCX_{Guid.NewGuid():N}";
        Assert.Null(UcxEnvironment.Get(name));
        Assert.True(UcxEnvironment.SetIfUnset(name, "inf"));
        Assert.Equal("inf", UcxEnvironment.Get(name));
        Assert.False(UcxEnvironment.SetIfUnset(name, "8kb"));
        Assert.Equal("inf", UcxEnvironment.Get(name));
    }
}
