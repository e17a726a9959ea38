using Orchestrator.Contracts;
using Orchestrator.Trainer.Collectives;

namespace Orchestrator.Tests.Collectives;

/// <summary>The one-rank communicator and the launcher checks of the MPI one (no MPI started).</summary>
public sealed class CommunicatorTests
{
    [Fact]
    public void Self_is_rank_0_of_1_and_collectives_are_local()
    {
        using var self = new SelfCommunicator();
        Assert.Equal((0, 1, 0, 1), (self.Rank, self.Size, self.LocalRank, self.LocalSize));
        float[] values = [1, 2, 3];
        self.AllreduceSum(values);
        self.Broadcast(values, 0);
        Assert.Equal([1f, 2f, 3f], values);
        long[] control = [5, -1];
        self.Allreduce(control, ReduceOp.Max);
        Assert.Equal([5L, -1L], control);

        var gathered = new byte[3];
        self.Allgather(new byte[] { 7, 8, 9 }, gathered);
        Assert.Equal([7, 8, 9], gathered);
        var counts = new int[1];
        byte[] grown = [];
        Assert.Equal(2, self.AllgatherVariable(new byte[] { 4, 5 }, counts, ref grown));
        Assert.Equal(2, counts[0]);
        Assert.Equal([4, 5], grown);
        Assert.Throws<ArgumentOutOfRangeException>(() => self.Broadcast(values, 1));
    }

    [Fact]
    public void Self_messages_are_queued_per_tag_and_a_receive_without_send_fails_instead_of_hanging()
    {
        using var self = new SelfCommunicator();
        self.Send(new byte[] { 1 }, 0, tag: 5);
        self.Send(new byte[] { 2, 3 }, 0, tag: 6);
        var buffer = new byte[4];
        Assert.Equal(2, self.Receive(buffer, 0, tag: 6));
        Assert.Equal(1, self.Receive(buffer, 0, tag: 5));
        Assert.Equal(1, self.SendReceive(new byte[] { 9 }, 0, 7, buffer, 0, 7));
        Assert.Equal(9, buffer[0]);
        Assert.Throws<InvalidOperationException>(() => self.Receive(buffer, 0, tag: 5));
    }

    [Fact]
    public void A_worker_count_above_one_without_mpirun_is_a_clear_error()
    {
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("PMI_SIZE"))) return; // the tests themselves run under mpirun
        var error = Assert.Throws<UserFacingException>(() => MpiCommunicator.CheckLauncher(1, expectedSize: 4));
        Assert.Contains("without mpirun.mpich", error.Message);
        Assert.Contains("mpirun.mpich -np 4", error.Message);
        MpiCommunicator.CheckLauncher(1, expectedSize: 1);
        MpiCommunicator.CheckLauncher(1, expectedSize: null);
    }

    [Fact]
    public void In_process_ranks_reduce_control_values()
    {
        var results = InProcessWorld.Run(3, communicator =>
        {
            long[] values = [communicator.Rank, 10 - communicator.Rank];
            communicator.Allreduce(values, ReduceOp.Max);
            double[] sums = [communicator.Rank + 0.5];
            communicator.Allreduce(sums, ReduceOp.Sum);
            return (values[0], values[1], sums[0]);
        });
        Assert.All(results, r => Assert.Equal((2L, 10L, 4.5), r));
    }
}
