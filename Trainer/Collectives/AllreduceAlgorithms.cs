using Orchestrator.Spec;

namespace Orchestrator.Trainer.Collectives;

/// <summary>Maps <c>compression.algorithm</c> names to allreduce algorithms bound to a communicator.</summary>
public static class AllreduceAlgorithms
{
    private static readonly Dictionary<string, Func<ICommunicator, IAllreduceAlgorithm>> Factories = new(StringComparer.Ordinal)
    {
        ["ring"] = c => new RingAllreduce(c),
        ["allgather"] = c => new AllgatherAllreduce(c),
        ["mpi"] = c => new MpiAllreduce(c),
    };

    /// <summary>The accepted names.</summary>
    public static IReadOnlyCollection<string> Names => Factories.Keys;

    /// <summary>A new algorithm instance (with its own scratch buffers) over <paramref name="communicator"/>.</summary>
    /// <exception cref="UserFacingException">Unknown name.</exception>
    public static IAllreduceAlgorithm Create(string name, ICommunicator communicator) =>
        Factories.TryGetValue(name, out var factory)
            ? factory(communicator)
            : throw new UserFacingException($"compression.algorithm: unknown algorithm '{name}' (expected one of {string.Join(", ", Factories.Keys)})");
}
