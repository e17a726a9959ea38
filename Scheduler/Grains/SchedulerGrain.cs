using System.Collections.Immutable;
using Microsoft.Extensions.Options;
using Orchestrator.Contracts;
using Orchestrator.Contracts.Grains;
using Orchestrator.Contracts.Models;
using Orchestrator.Scheduler.Admission;
using Orchestrator.Scheduler.Placement;
using Orchestrator.Spec;

namespace Orchestrator.Scheduler.Grains;

/// <summary>
/// Gang admission for the cluster (see <see cref="ISchedulerGrain"/>): each call rebuilds a <see cref="GangAdmission"/> from
/// persisted state and the live nodes (a registered node is alive while its silo is an active member of the cluster),
/// applies one operation, writes the result and only then answers. A rejected request (a gang that could never fit, a
/// duplicate node) changes nothing. Until a silo registers a node the cluster is one implicit node of the configured slots.
/// A node made for one job (a Kubernetes worker pod, labelled <c>orchestrator/job=JOB</c>) is registered for that job's launcher and
/// for <c>node-exec</c> but is not capacity: admission never places another gang on it, and it is dropped once its silo is gone.
/// </summary>
public sealed class SchedulerGrain(
    [PersistentState("scheduler", StorageNames.Scheduler)] IPersistentState<SchedulerState> state,
    IOptions<SchedulerOptions> options,
    IClusterMembershipService membership,
    ActiveStoredStateGrains active) : StoredStateGrain(active), ISchedulerGrain
{
    /// <inheritdoc />
    public override Task<bool> WriteBackIfLostAsync() => StateWriteBack.WriteBackIfLostAsync(state, "scheduler");

    /// <inheritdoc />
    public async Task<AdmissionResult> EnqueueAsync(string jobId, int workers, PlacementSpec? placement = null)
    {
        var admission = Load();
        var decision = admission.Enqueue(jobId, workers, placement);
        await SaveAsync(admission);
        return new AdmissionResult(decision.Granted ? AdmissionOutcome.Granted : AdmissionOutcome.Queued, decision.QueuePosition, admission.Free,
            decision.Placement?.Nodes ?? []);
    }

    /// <inheritdoc />
    public Task<SlotGrant?> GetGrantAsync(string jobId) =>
        Task.FromResult(Load().Running.Where(g => g.JobId == jobId).Select(ToGrant).FirstOrDefault());

    /// <inheritdoc />
    public async Task<ImmutableArray<SlotGrant>> ReleaseAsync(string jobId)
    {
        var admission = Load();
        var started = admission.Release(jobId);
        await SaveAsync(admission);
        return [.. started.Select(ToGrant)];
    }

    /// <inheritdoc />
    public async Task<ImmutableArray<SlotGrant>> ResizeAsync(string jobId, int workers)
    {
        var admission = Load();
        var started = admission.Resize(jobId, workers);
        await SaveAsync(admission);
        return [.. started.Select(ToGrant)];
    }

    /// <inheritdoc />
    public async Task<ImmutableArray<SlotGrant>> SetCapacityAsync(int slots)
    {
        var schedulable = state.State.Nodes.Count(n => !IsDedicated(n));
        if (schedulable > 0)
            throw new InvalidOperationException($"the cluster has {schedulable} registered node(s); each node's slots come from its silo's config");
        var admission = Load();
        var started = admission.SetCapacity(slots);
        await SaveAsync(admission);
        return [.. started.Select(ToGrant)];
    }

    /// <inheritdoc />
    public async Task<ImmutableArray<SlotGrant>> RegisterNodeAsync(NodeInfo node)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (node.Slots < 1) throw new ArgumentException($"node '{node.Name}' offers {node.Slots} slots; at least 1 is needed");
        var live = LiveSilos();
        var sameName = state.State.Nodes.FindIndex(n => n.Name == node.Name);
        if (sameName >= 0 && state.State.Nodes[sameName].Silo != node.Silo && live.Contains(state.State.Nodes[sameName].Silo))
            throw new ArgumentException(
                $"node name '{node.Name}' is already taken by the live silo {state.State.Nodes[sameName].Silo} (address {state.State.Nodes[sameName].Address}); give each machine its own node.name");
        var sameAddress = state.State.Nodes.FirstOrDefault(n => n.Name != node.Name && n.Address == node.Address && live.Contains(n.Silo));
        if (sameAddress is not null)
            throw new ArgumentException($"node address {node.Address} is already registered by the live node '{sameAddress.Name}'; each node needs its own node.address");

        var nodes = state.State.Nodes.ToList();
        if (sameName >= 0) nodes[sameName] = node;
        else nodes.Add(node);
        nodes.RemoveAll(n => IsDedicated(n) && n.Name != node.Name && !live.Contains(n.Silo)); // worker pods of ended launches
        var running = state.State.Running;
        if (!IsDedicated(node) && state.State.Nodes.All(IsDedicated))
            running = [.. running.Select(g => g with { Nodes = [new NodeRanks(node.Name, g.Workers)] })]; // the implicit node was this one
        var admission = Build(nodes, running, state.State.Queue, state.State.Capacity, live.Add(node.Silo));
        var started = admission.AdmitWaiting();
        await SaveAsync(admission, nodes);
        return [.. started.Select(ToGrant)];
    }

    /// <inheritdoc />
    public async Task<NodeChange> NodesChangedAsync()
    {
        var admission = Load();
        var started = admission.AdmitWaiting();
        if (started.Count > 0) await SaveAsync(admission);
        var dead = admission.Nodes.Where(n => !n.Alive).Select(n => n.Name).ToHashSet(StringComparer.Ordinal);
        return new NodeChange([.. started.Select(ToGrant)],
            [.. admission.Displaced.Select(g => new DisplacedGang(g.JobId, [.. g.Placement.Nodes.Select(p => p.Node).Where(dead.Contains)]))],
            [.. admission.Running.Select(g => g.JobId)]);
    }

    /// <inheritdoc />
    public async Task<Replacement> PlaceAnewIfDisplacedAsync(string jobId, int[]? smaller = null)
    {
        var admission = Load();
        var current = admission.Running.FirstOrDefault(g => g.JobId == jobId);
        if (current.Request.JobId is null)
            throw new InvalidOperationException($"job '{jobId}' holds no worker slots");
        if (!admission.Displaced.Any(g => g.JobId == jobId))
            return new Replacement(ToGrant(current), [], null);
        var replacement = admission.Replace(jobId, smaller);
        await SaveAsync(admission);
        return new Replacement(replacement.Replaced is { } grant ? ToGrant(grant) : null, [.. replacement.Started.Select(ToGrant)], replacement.Shortfall);
    }

    /// <inheritdoc />
    public Task<SchedulerSnapshot> GetSnapshotAsync()
    {
        var admission = Load();
        var byName = state.State.Nodes.ToDictionary(n => n.Name);
        var live = LiveSilos();
        var nodes = admission.Nodes.Where(n => byName.ContainsKey(n.Name)).Select(n => new NodeStatus(byName[n.Name], admission.UsedOn(n.Name), n.Alive,
            [.. admission.Running.Where(g => g.Placement.RanksOn(n.Name) > 0).Select(g => g.JobId)]))
            .Concat(state.State.Nodes.Where(IsDedicated).Select(n => new NodeStatus(n, 0, live.Contains(n.Silo), [.. DedicatedJob(n)])));
        return Task.FromResult(new SchedulerSnapshot(
            admission.Capacity, admission.Free,
            [.. admission.Running.Select(ToGrant)], [.. admission.Queue.Select(ToGrant)], [.. nodes]));
    }

    // Joining counts: a silo registers its node once it is up itself, and this silo's view may not have seen it turn Active yet.
    private ImmutableHashSet<string> LiveSilos() =>
        [.. membership.CurrentSnapshot.Members.Values.Where(m => m.Status is SiloStatus.Active or SiloStatus.Joining).Select(m => m.SiloAddress.ToParsableString())];

    private GangAdmission Load() => Build(state.State.Nodes, state.State.Running, state.State.Queue, state.State.Capacity, LiveSilos());

    /// <summary>The node label of a node made for one job (<c>orchestrator/job=JOB</c>, as the Kubernetes launcher's worker pods register).</summary>
    private const string DedicatedLabel = "orchestrator/job=";

    private static bool IsDedicated(NodeInfo node) => !node.Labels.IsDefaultOrEmpty && node.Labels.Any(l => l.StartsWith(DedicatedLabel, StringComparison.Ordinal));

    private static IEnumerable<string> DedicatedJob(NodeInfo node) =>
        node.Labels.Where(l => l.StartsWith(DedicatedLabel, StringComparison.Ordinal)).Select(l => l[DedicatedLabel.Length..]);

    private GangAdmission Build(IReadOnlyList<NodeInfo> registered, IEnumerable<SlotGrant> running, IEnumerable<SlotGrant> queue, int capacity,
        ImmutableHashSet<string> live)
    {
        registered = [.. registered.Where(n => !IsDedicated(n))];
        if (registered.Count == 0)
        {
            return new GangAdmission(capacity > 0 ? capacity : options.Value.WorkerSlots,
                running.Select(g => new GangRequest(g.JobId, g.Workers, g.Placement)), queue.Select(g => new GangRequest(g.JobId, g.Workers, g.Placement)));
        }
        return new GangAdmission(
            [.. registered.Select(n => new AdmissionNode(n.Name, n.Slots, live.Contains(n.Silo)))],
            running.Select(g => new GangGrant(new GangRequest(g.JobId, g.Workers, g.Placement), new GangPlacement(g.Nodes))),
            queue.Select(g => new GangRequest(g.JobId, g.Workers, g.Placement)));
    }

    private async Task SaveAsync(GangAdmission admission, List<NodeInfo>? nodes = null)
    {
        await StateWriteBack.WriteAsync(state, new SchedulerState
        {
            Capacity = (nodes ?? state.State.Nodes).All(IsDedicated) ? admission.Capacity : state.State.Capacity,
            Running = [.. admission.Running.Select(ToGrant)],
            Queue = [.. admission.Queue.Select(ToGrant)],
            Nodes = nodes ?? state.State.Nodes,
        }, "scheduler");
    }

    private static SlotGrant ToGrant(GangGrant g) => new(g.JobId, g.Workers, g.Placement.Nodes, g.Request.Placement);

    private static SlotGrant ToGrant(GangRequest r) => new(r.JobId, r.Workers, [], r.Placement);
}
