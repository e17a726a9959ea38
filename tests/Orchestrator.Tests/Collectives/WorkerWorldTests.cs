using Orchestrator.Trainer.Collectives;

namespace Orchestrator.Tests.Collectives;

public sealed class WorkerWorldTests
{
    [Fact]
    public void Without_a_launcher_a_process_is_a_world_of_one() =>
        Assert.Equal(WorkerWorld.Single, WorkerWorld.FromVariables(_ => null));

    [Fact]
    public void Mpich_variables_give_rank_size_and_the_local_share()
    {
        var env = new Dictionary<string, string> { ["PMI_RANK"] = "3", ["PMI_SIZE"] = "4", ["MPI_LOCALRANKID"] = "1", ["MPI_LOCALNRANKS"] = "2" };
        var world = WorkerWorld.FromVariables(env.GetValueOrDefault);
        Assert.Equal(new WorkerWorld(3, 4, 1, 2), world);
        Assert.True(world.IsDistributed);
    }

    [Fact]
    public void Missing_local_variables_assume_every_rank_on_this_machine()
    {
        var env = new Dictionary<string, string> { ["PMI_RANK"] = "2", ["PMI_SIZE"] = "4" };
        Assert.Equal(new WorkerWorld(2, 4, 2, 4), WorkerWorld.FromVariables(env.GetValueOrDefault));
    }
}
