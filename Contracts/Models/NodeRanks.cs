namespace Orchestrator.Contracts.Models;

/// <summary>Ranks of one gang on one node: part of a placement.</summary>
/// <param name="Node">The node's name.</param>
/// <param name="Ranks">How many consecutive ranks run there.</param>
[GenerateSerializer, Immutable, Alias("orchestrator.NodeRanks.v1")]
public readonly record struct NodeRanks([property: Id(0)] string Node, [property: Id(1)] int Ranks);
