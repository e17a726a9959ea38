using Orchestrator.Spec;

namespace Orchestrator.Contracts.Models;

/// <summary>The wire and storage form of <see cref="PlacementSpec"/> (the spec's records carry no Orleans serializers).</summary>
[GenerateSerializer, Immutable, Alias("orchestrator.PlacementSpec.v1")]
public readonly record struct PlacementSpecSurrogate([property: Id(0)] int RanksPerNode, [property: Id(1)] bool Spread);

/// <summary>Converts <see cref="PlacementSpec"/> to and from its surrogate.</summary>
[RegisterConverter]
public sealed class PlacementSpecConverter : IConverter<PlacementSpec, PlacementSpecSurrogate>
{
    /// <inheritdoc/>
    public PlacementSpec ConvertFromSurrogate(in PlacementSpecSurrogate surrogate) =>
        new(surrogate.RanksPerNode, surrogate.Spread ? PlacementPolicy.Spread : PlacementPolicy.Pack);

    /// <inheritdoc/>
    public PlacementSpecSurrogate ConvertToSurrogate(in PlacementSpec value) => new(value.RanksPerNode, value.Policy == PlacementPolicy.Spread);
}
