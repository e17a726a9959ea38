using Orchestrator.Spec;
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

    private static Func<string, string?> Variables(params (string Name, string Value)[] set) =>
        name => set.FirstOrDefault(v => v.Name == name).Value;

    [Theory]
    [InlineData("4", 1)]
    [InlineData("2", 4)]
    [InlineData("two", 2)]
    public void A_world_that_is_not_the_launchers_is_a_clear_error(string pmiSize, int mpiSize)
    {
        // What a process sees when it loaded another MPI library than the launcher's, or none at all.
        var error = Assert.Throws<UserFacingException>(() => MpiCommunicator.CheckLauncher(mpiSize, expectedSize: null, Variables(("PMI_SIZE", pmiSize))));
        Assert.Contains($"mpirun.mpich started {pmiSize} processes but MPI sees {mpiSize}", error.Message);
        Assert.Contains("install MPICH", error.Message);
    }

    [Fact]
    public void The_launchers_world_passes_and_a_worker_count_it_does_not_match_is_an_error()
    {
        MpiCommunicator.CheckLauncher(2, expectedSize: 2, Variables(("PMI_SIZE", "2")));
        MpiCommunicator.CheckLauncher(2, expectedSize: null, Variables(("PMI_SIZE", "2")));
        var error = Assert.Throws<UserFacingException>(() => MpiCommunicator.CheckLauncher(2, expectedSize: 4, Variables(("PMI_SIZE", "2"))));
        Assert.Contains("the job has 4 workers but mpirun.mpich started 2 processes", error.Message);
    }

    [Fact]
    public void OpenMPIs_launcher_is_refused_by_name()
    {
        var error = Assert.Throws<UserFacingException>(() => MpiCommunicator.CheckLauncher(1, expectedSize: null, Variables(("OMPI_COMM_WORLD_SIZE", "2"))));
        Assert.Contains("OpenMPI's mpirun (2 processes)", error.Message);
        Assert.Contains("mpirun.mpich -np N", error.Message);
    }

    [Fact]
    public void A_worker_claiming_a_launcher_world_that_MPI_does_not_see_exits_with_the_message()
    {
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("PMI_SIZE"))) return; // the tests themselves run under mpirun
        // PMI_SIZE without Hydra's PMI connection: MPICH starts as a lone singleton, so MPI sees 1 of the claimed 2.
        using var dir = new TempDirectory();
        var spec = dir.File("spec.yaml");
        File.WriteAllText(spec, """
            name: pmi-test
            model: { kind: mlp, width: 8 }
            data: { dataset: synthetic, train_subset: 128, test_subset: 64 }
            training: { epochs: 1, global_batch: 64, threads: 1 }
            """);
        var result = Orchestrator.Tests.Cli.CliRunner.Run(dir.Path, ["train", spec, "--out", dir.File("run")], TimeSpan.FromSeconds(60),
            new Dictionary<string, string?> { ["PMI_SIZE"] = "2" });

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("mpirun.mpich started 2 processes but MPI sees 1", result.Output);
        Assert.False(File.Exists(Path.Combine(dir.File("run"), "summary.json")));
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
