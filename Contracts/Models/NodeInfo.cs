using System.Collections.Immutable;

namespace Orchestrator.Contracts.Models;

/// <summary>
/// A machine of the cluster as its silo registers it (from the <c>node</c> section of its <c>up</c> config): every silo is
/// also the node its machine offers. A node is alive while its silo is an active member of the Orleans cluster.
/// </summary>
/// <param name="Name">Unique name (default: the machine's host name); rank placement and logs use it.</param>
/// <param name="Address">The address other nodes reach this one at (MPI traffic, Hydra's proxies, the gateway).</param>
/// <param name="Slots">Worker slots (ranks) the node runs at once.</param>
/// <param name="Gpus">GPUs on the node (0 = CPU only).</param>
/// <param name="Labels">Free-form labels as <c>key=value</c>, sorted (an array: grain storage's JSON cannot rebuild immutable dictionaries).</param>
/// <param name="Silo">The Orleans silo address of the node's silo (its parsable form), which tells liveness.</param>
/// <param name="Gateway">The node's client gateway (<c>host:port</c>): workers placed there heartbeat to it.</param>
[GenerateSerializer, Immutable, Alias("orchestrator.NodeInfo.v1")]
public sealed record NodeInfo(string Name, string Address, int Slots, int Gpus, ImmutableArray<string> Labels, string Silo, string Gateway);

/// <summary>A node as <c>status</c> shows it.</summary>
/// <param name="Node">What the node registered.</param>
/// <param name="Used">Slots held by running gangs.</param>
/// <param name="Alive">Whether its silo is an active cluster member.</param>
/// <param name="Jobs">Jobs with ranks on it.</param>
[GenerateSerializer, Immutable, Alias("orchestrator.NodeStatus.v1")]
public sealed record NodeStatus(NodeInfo Node, int Used, bool Alive, ImmutableArray<string> Jobs)
{
    /// <summary>Slots not held by a running gang (none on a dead node).</summary>
    public int Free => Alive ? Math.Max(0, Node.Slots - Used) : 0;
}
