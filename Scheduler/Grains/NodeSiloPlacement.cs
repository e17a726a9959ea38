using Orleans.Placement;
using Orleans.Runtime.Placement;

namespace Orchestrator.Scheduler.Grains;

/// <summary>
/// Places a grain on the silo its key names (a parsable silo address): a node's agent runs on the node's own silo and
/// nowhere else. A key naming a silo that is not an active member fails the call (the node is down).
/// </summary>
[GenerateSerializer, Immutable, SuppressReferenceTracking, Alias("orchestrator.NodeSiloPlacement.v1")]
public sealed class NodeSiloPlacement : PlacementStrategy
{
    /// <summary>The one instance (the strategy has no settings).</summary>
    public static NodeSiloPlacement Instance { get; } = new();
}

/// <summary>Marks a grain class for <see cref="NodeSiloPlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class NodeSiloPlacementAttribute() : PlacementAttribute(NodeSiloPlacement.Instance);

/// <summary>Carries out <see cref="NodeSiloPlacement"/>.</summary>
public sealed class NodeSiloPlacementDirector : IPlacementDirector
{
    /// <inheritdoc />
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var key = target.GrainIdentity.Key.ToString();
        SiloAddress silo;
        try
        {
            silo = SiloAddress.FromParsableString(key);
        }
        catch (FormatException e)
        {
            throw new ArgumentException($"node agent key '{key}' is not a silo address", e);
        }
        return context.GetCompatibleSilos(target).Contains(silo)
            ? Task.FromResult(silo)
            : throw new InvalidOperationException($"the node's silo {key} is not an active member of the cluster (the node is down)");
    }
}
