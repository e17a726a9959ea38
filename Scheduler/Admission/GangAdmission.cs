using Orchestrator.Scheduler.Placement;
using Orchestrator.Spec;

namespace Orchestrator.Scheduler.Admission;

/// <summary>A job's request for a gang of worker slots.</summary>
/// <param name="JobId">The job's name.</param>
/// <param name="Workers">Slots needed, all at once.</param>
/// <param name="Placement">How the ranks may spread over nodes; null = <see cref="PlacementSpec.Default"/>.</param>
public readonly record struct GangRequest(string JobId, int Workers, PlacementSpec? Placement = null)
{
    /// <summary>The placement rules with the default filled in.</summary>
    public PlacementSpec PlacementOrDefault => Placement ?? PlacementSpec.Default;
}

/// <summary>A running gang: the request and the nodes its ranks hold.</summary>
public readonly record struct GangGrant(GangRequest Request, GangPlacement Placement)
{
    /// <summary>The job's name.</summary>
    public string JobId => Request.JobId;

    /// <summary>The gang's size.</summary>
    public int Workers => Request.Workers;
}

/// <summary>What <see cref="GangAdmission.Enqueue"/> decided for one job.</summary>
/// <param name="Granted">True when the job holds its slots now.</param>
/// <param name="QueuePosition">1-based place in the queue when not granted; 0 when granted.</param>
/// <param name="Placement">Where the granted gang runs; null when queued.</param>
public readonly record struct GangDecision(bool Granted, int QueuePosition, GangPlacement? Placement = null);

/// <summary>What <see cref="GangAdmission.Replace"/> did: the new grant (null when the job waits first in the queue), the queued
/// jobs that started, and what is short when the job waits.</summary>
public sealed record GangReplacement(GangGrant? Replaced, IReadOnlyList<GangGrant> Started, string? Shortfall);

/// <summary>A node as admission knows it: name, worker slots, alive or not.</summary>
public readonly record struct AdmissionNode(string Name, int Slots, bool Alive = true);

/// <summary>
/// Gang admission over a cluster's nodes, pure logic (no Orleans types; the scheduler grain rebuilds it from persisted
/// state and the cluster's live nodes, applies one operation and persists the result).
/// <para>
/// A job starts only when ALL its workers can be placed at once (<see cref="GangPlacer"/> over the free slots of the live
/// nodes). The queue is strict FIFO without backfilling: a job at the head that does not fit blocks smaller jobs behind it
/// (no starvation of big gangs), and a new job queues behind waiting ones even when it would fit. A job that could not be
/// placed even on an empty cluster of the live nodes is refused outright, since it could never start.
/// </para>
/// </summary>
public sealed class GangAdmission
{
    /// <summary>The node name of a single-machine cluster built from a bare capacity.</summary>
    public const string LocalNode = "local";

    private readonly List<AdmissionNode> _nodes;
    private readonly List<GangGrant> _running = [];
    private readonly List<GangRequest> _queue = [];

    /// <summary>Rebuilds the accounting of one node of <paramref name="capacity"/> slots; running gangs are placed on it.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Capacity below 1, or grants exceed it.</exception>
    /// <exception cref="ArgumentException">A job appears twice.</exception>
    public GangAdmission(int capacity, IEnumerable<GangRequest>? running = null, IEnumerable<GangRequest>? queue = null)
        : this([new AdmissionNode(LocalNode, CheckCapacity(capacity))],
            (running ?? []).Select(r => new GangGrant(r, new GangPlacement([new(LocalNode, r.Workers)]))), queue)
    {
        if (Used > Capacity)
            throw new ArgumentOutOfRangeException(nameof(running), Used, $"running jobs hold {Used} slots, more than the capacity {Capacity}");
    }

    /// <summary>
    /// Rebuilds the accounting from the nodes, the running gangs (with their placements) and the queue (head first). Gangs
    /// on a dead node keep their grant until their job replaces or releases it (<see cref="Displaced"/>).
    /// </summary>
    /// <exception cref="ArgumentException">A job appears twice, two nodes share a name, or a grant names an unknown node.</exception>
    public GangAdmission(IReadOnlyList<AdmissionNode> nodes, IEnumerable<GangGrant> running, IEnumerable<GangRequest>? queue = null)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        _nodes = [.. nodes];
        if (_nodes.Select(n => n.Name).Distinct(StringComparer.Ordinal).Count() != _nodes.Count)
            throw new ArgumentException("two nodes share a name", nameof(nodes));
        foreach (var grant in running ?? [])
        {
            CheckNew(grant.Request);
            foreach (var part in grant.Placement.Nodes)
                if (!_nodes.Any(n => n.Name == part.Node))
                    throw new ArgumentException($"job '{grant.JobId}' holds slots on unknown node '{part.Node}'", nameof(running));
            _running.Add(grant);
        }
        foreach (var waiting in queue ?? [])
        {
            CheckNew(waiting);
            _queue.Add(waiting);
        }
    }

    /// <summary>Total worker slots of the live nodes.</summary>
    public int Capacity => _nodes.Where(n => n.Alive).Sum(n => n.Slots);

    /// <summary>Slots held by running gangs on live nodes.</summary>
    public int Used => _nodes.Where(n => n.Alive).Sum(n => UsedOn(n.Name));

    /// <summary>Slots of live nodes not held by any running gang.</summary>
    public int Free => FreeSlots().Sum(n => n.Free);

    /// <summary>The nodes, as given.</summary>
    public IReadOnlyList<AdmissionNode> Nodes => _nodes;

    /// <summary>Gangs holding slots, in grant order.</summary>
    public IReadOnlyList<GangGrant> Running => _running;

    /// <summary>Jobs waiting, head first.</summary>
    public IReadOnlyList<GangRequest> Queue => _queue;

    /// <summary>Running gangs with ranks on a dead node: their jobs must restart elsewhere (<see cref="Replace"/>) or release.</summary>
    public IReadOnlyList<GangGrant> Displaced =>
        [.. _running.Where(g => g.Placement.Nodes.Any(p => !_nodes.First(n => n.Name == p.Node).Alive))];

    /// <summary>Slots held on node <paramref name="node"/> by running gangs.</summary>
    public int UsedOn(string node) => _running.Sum(g => g.Placement.RanksOn(node));

    /// <summary>Each node with its free slots now (dead nodes: none).</summary>
    public IReadOnlyList<NodeSlots> FreeSlots() =>
        [.. _nodes.Select(n => new NodeSlots(n.Name, n.Slots, n.Alive ? Math.Clamp(n.Slots - UsedOn(n.Name), 0, n.Slots) : 0, n.Alive))];

    /// <summary>
    /// Grants the job's slots when they can be placed and nobody waits ahead; queues it otherwise. Idempotent: a job already
    /// running or queued gets its current standing back (with the same worker count).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Workers below 1, or a gang the live nodes could never hold (the message says what is short).</exception>
    /// <exception cref="ArgumentException">The job is known with a different worker count.</exception>
    public GangDecision Enqueue(string jobId, int workers, PlacementSpec? placement = null)
    {
        var request = new GangRequest(jobId, workers, placement);
        CheckWorkers(request);
        var running = _running.FindIndex(r => r.JobId == jobId);
        var queued = _queue.FindIndex(r => r.JobId == jobId);
        if (running >= 0 || queued >= 0)
        {
            var known = running >= 0 ? _running[running].Workers : _queue[queued].Workers;
            if (known != workers)
                throw new ArgumentException($"job '{jobId}' already holds or waits for {known} slots, not {workers}", nameof(workers));
            return running >= 0 ? new GangDecision(true, 0, _running[running].Placement) : new GangDecision(false, queued + 1);
        }
        CheckCouldFit(request);
        if (_queue.Count == 0 && TryPlace(request, FreeSlots(), out var placed))
        {
            _running.Add(new GangGrant(request, placed));
            return new GangDecision(true, 0, placed);
        }
        _queue.Add(request);
        return new GangDecision(false, _queue.Count);
    }

    /// <summary>
    /// Frees a running job's slots, or removes a waiting job from the queue, then starts queued jobs from the head while
    /// they fit. Returns those that started, in order. An unknown job changes nothing.
    /// </summary>
    public IReadOnlyList<GangGrant> Release(string jobId)
    {
        _running.RemoveAll(r => r.JobId == jobId);
        _queue.RemoveAll(r => r.JobId == jobId);
        return AdmitFromHead();
    }

    /// <summary>
    /// Changes a running job's gang to <paramref name="workers"/> slots (a rescale: the gang is relaunched, so it is placed
    /// anew over the free slots plus its own) and returns the queued jobs that start in the slots it gave up. A rescale
    /// never waits in the queue: one that cannot be placed now is refused (nothing changes).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Workers below 1, or the new gang cannot be placed now.</exception>
    /// <exception cref="InvalidOperationException">The job holds no slots (it is queued or unknown).</exception>
    public IReadOnlyList<GangGrant> Resize(string jobId, int workers)
    {
        var index = _running.FindIndex(r => r.JobId == jobId);
        if (index < 0)
            throw new InvalidOperationException($"job '{jobId}' holds no worker slots; only a running job can be rescaled");
        var request = _running[index].Request with { Workers = workers };
        CheckWorkers(request);
        CheckCouldFit(request);
        var own = _running[index];
        _running.RemoveAt(index);
        if (!TryPlace(request, FreeSlots(), out var placed, out var shortfall))
        {
            _running.Insert(index, own);
            var extra = workers - own.Workers;
            throw new ArgumentOutOfRangeException(nameof(workers), workers, extra > 0
                ? $"job '{jobId}' cannot grow to {workers} workers: it needs {extra} more slots and {Free} of {Capacity} are free ({shortfall})"
                : $"job '{jobId}' cannot be placed with {workers} workers now: {shortfall}");
        }
        _running.Insert(index, new GangGrant(request, placed));
        return AdmitFromHead();
    }

    /// <summary>
    /// Places a running job's gang anew (its nodes died: restart on the others). Placed now: the new grant is returned with
    /// the queued jobs that start after it; otherwise the job waits at the head of the queue (it ran before anything that
    /// waits), and the result says what is short.
    /// </summary>
    /// <param name="jobId">The job.</param>
    /// <param name="smaller">Smaller worker counts the job accepts instead (it shrinks on node loss), tried largest first when
    /// the live nodes cannot hold its whole gang; the grant then carries the count that was placed.</param>
    /// <exception cref="InvalidOperationException">The job holds no slots.</exception>
    public GangReplacement Replace(string jobId, IReadOnlyList<int>? smaller = null)
    {
        var index = _running.FindIndex(r => r.JobId == jobId);
        if (index < 0)
            throw new InvalidOperationException($"job '{jobId}' holds no worker slots; only a running job can be placed anew");
        var request = _running[index].Request;
        _running.RemoveAt(index);
        var free = FreeSlots();
        string? shortfall = null;
        foreach (var workers in (smaller ?? []).Where(w => w >= 1 && w < request.Workers).OrderDescending().Prepend(request.Workers))
        {
            var attempt = request with { Workers = workers };
            if (TryPlace(attempt, free, out var placed, out var missing))
            {
                var grant = new GangGrant(attempt, placed);
                _running.Insert(index, grant);
                return new GangReplacement(grant, AdmitFromHead(), null);
            }
            shortfall ??= missing; // what the whole gang lacks is what the user needs to hear
        }
        _queue.Insert(0, request);
        return new GangReplacement(null, AdmitFromHead(), shortfall);
    }

    /// <summary>Starts queued jobs from the head while they fit (after the live nodes changed); returns those that started.</summary>
    public IReadOnlyList<GangGrant> AdmitWaiting() => AdmitFromHead();

    /// <summary>Changes the nodes (one joined, left, died or came back) and returns the queued jobs that now start.</summary>
    /// <exception cref="ArgumentException">Two nodes share a name, or a node still holding ranks is removed.</exception>
    public IReadOnlyList<GangGrant> SetNodes(IReadOnlyList<AdmissionNode> nodes)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        if (nodes.Select(n => n.Name).Distinct(StringComparer.Ordinal).Count() != nodes.Count)
            throw new ArgumentException("two nodes share a name", nameof(nodes));
        var holder = _running.FirstOrDefault(g => g.Placement.Nodes.Any(p => !nodes.Any(n => n.Name == p.Node)));
        if (holder.Request.JobId is not null)
            throw new ArgumentException($"job '{holder.JobId}' still holds slots on a node that would be removed", nameof(nodes));
        _nodes.Clear();
        _nodes.AddRange(nodes);
        return AdmitFromHead();
    }

    /// <summary>Changes the slot count of a single-node cluster and returns the queued jobs that now start.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Below 1, below the slots in use, or below a queued job's need.</exception>
    /// <exception cref="InvalidOperationException">The cluster has several nodes (their slots come from their configs).</exception>
    public IReadOnlyList<GangGrant> SetCapacity(int capacity)
    {
        CheckCapacity(capacity);
        if (_nodes.Count != 1)
            throw new InvalidOperationException($"the cluster has {_nodes.Count} nodes; each node's slots come from its own config");
        if (capacity < Used)
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"running jobs hold {Used} slots; capacity cannot drop to {capacity}");
        var tooBig = _queue.FirstOrDefault(q => q.Workers > capacity);
        if (tooBig.JobId is not null)
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"queued job '{tooBig.JobId}' needs {tooBig.Workers} slots; capacity cannot drop to {capacity}");
        _nodes[0] = _nodes[0] with { Slots = capacity };
        return AdmitFromHead();
    }

    private List<GangGrant> AdmitFromHead()
    {
        var started = new List<GangGrant>();
        while (_queue.Count > 0 && TryPlace(_queue[0], FreeSlots(), out var placed))
        {
            var grant = new GangGrant(_queue[0], placed);
            started.Add(grant);
            _running.Add(grant);
            _queue.RemoveAt(0);
        }
        return started;
    }

    private static bool TryPlace(GangRequest request, IReadOnlyList<NodeSlots> free, out GangPlacement placed) =>
        TryPlace(request, free, out placed, out _);

    private static bool TryPlace(GangRequest request, IReadOnlyList<NodeSlots> free, out GangPlacement placed, out string? shortfall)
    {
        var ok = GangPlacer.TryPlace(free, request.Workers, request.PlacementOrDefault, out var placement, out shortfall);
        placed = placement!;
        return ok;
    }

    private void CheckCouldFit(GangRequest request)
    {
        if (GangPlacer.NeverFits(FreeSlots(), request.Workers, request.PlacementOrDefault) is { } shortfall)
            throw new ArgumentOutOfRangeException(nameof(request), request.Workers,
                $"job '{request.JobId}' asks for {request.Workers} workers but the cluster's {Capacity} slots could never hold the gang: {shortfall}");
    }

    private void CheckNew(GangRequest request)
    {
        CheckWorkers(request);
        if (_running.Any(r => r.JobId == request.JobId) || _queue.Any(r => r.JobId == request.JobId))
            throw new ArgumentException($"job '{request.JobId}' appears twice in the slot accounting");
    }

    private static void CheckWorkers(GangRequest request)
    {
        if (string.IsNullOrEmpty(request.JobId))
            throw new ArgumentException("job id must not be empty");
        if (request.Workers < 1)
            throw new ArgumentOutOfRangeException(nameof(request), request.Workers, $"job '{request.JobId}' asks for {request.Workers} workers; at least 1 is needed");
    }

    private static int CheckCapacity(int capacity) => capacity >= 1
        ? capacity
        : throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "worker-slot capacity must be at least 1");
}
