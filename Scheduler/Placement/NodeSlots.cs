namespace Orchestrator.Scheduler.Placement;

/// <summary>One node as placement sees it: its name, its worker slots, how many are free now, and whether it is alive.</summary>
/// <param name="Name">The node's name (unique in the cluster).</param>
/// <param name="Slots">Worker slots the node offers.</param>
/// <param name="Free">Slots not held by a running gang.</param>
/// <param name="Alive">False for a node whose silo left the cluster: it never gets ranks.</param>
public readonly record struct NodeSlots(string Name, int Slots, int Free, bool Alive = true);
