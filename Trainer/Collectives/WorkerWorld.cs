namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// Where this process sits among the job's workers, as the launcher announced it (MPICH's Hydra sets
/// PMI_RANK, PMI_SIZE, MPI_LOCALRANKID and MPI_LOCALNRANKS). Read before MPI starts, so a process
/// started without a launcher is simply a world of one.
/// </summary>
public sealed record WorkerWorld(int Rank, int Size, int LocalRank, int LocalSize)
{
    public static readonly WorkerWorld Single = new(0, 1, 0, 1);

    /// <summary>True when a launcher started several workers.</summary>
    public bool IsDistributed => Size > 1;

    public static WorkerWorld FromEnvironment() => FromVariables(Environment.GetEnvironmentVariable);

    /// <summary>The world described by launcher variables (testable without a launcher).</summary>
    public static WorkerWorld FromVariables(Func<string, string?> get)
    {
        static int Read(Func<string, string?> get, string name, int fallback) =>
            int.TryParse(get(name), out var value) ? value : fallback;
        int size = Read(get, "PMI_SIZE", 1);
        int rank = Read(get, "PMI_RANK", 0);
        int localSize = Read(get, "MPI_LOCALNRANKS", size);
        int localRank = Read(get, "MPI_LOCALRANKID", rank % Math.Max(1, localSize));
        return new WorkerWorld(rank, size, localRank, localSize);
    }
}
