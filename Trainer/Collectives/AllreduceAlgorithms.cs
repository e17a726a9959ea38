using Orchestrator.Spec;

namespace Orchestrator.Trainer.Collectives;

/// <summary>Maps <c>compression.algorithm</c> to allreduce algorithms bound to a communicator.</summary>
public static class AllreduceAlgorithms
{
    /// <summary>A new algorithm instance (with its own scratch buffers) over <paramref name="communicator"/>.</summary>
    public static IAllreduceAlgorithm Create(AllreduceKind kind, ICommunicator communicator) => kind switch
    {
        AllreduceKind.Ring => new RingAllreduce(communicator),
        AllreduceKind.Allgather => new AllgatherAllreduce(communicator),
        AllreduceKind.Mpi => new MpiAllreduce(communicator),
    };
}
