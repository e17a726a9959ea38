using TorchSharp;

namespace Orchestrator.Trainer.Devices;

/// <summary>
/// Torch intra-op threads per worker. Workers sharing a machine split its cores: two ranks with two
/// threads each on two cores oversubscribe and collapse throughput.
/// </summary>
public static class ThreadBudget
{
    /// <param name="requested">The spec's <c>training.threads</c>; 0 = this worker's share of the cores.</param>
    /// <param name="workersOnThisMachine">Local worker count (MPICH's MPI_LOCALNRANKS; 1 when alone).</param>
    public static int Resolve(int requested, int workersOnThisMachine, int cores) =>
        requested > 0 ? requested : Math.Max(1, cores / Math.Max(1, workersOnThisMachine));

    /// <summary>Resolves and applies the thread count to torch; returns it.</summary>
    public static int Apply(int requested, int workersOnThisMachine = 1)
    {
        int threads = Resolve(requested, workersOnThisMachine, Environment.ProcessorCount);
        torch.set_num_threads(threads);
        return threads;
    }
}
