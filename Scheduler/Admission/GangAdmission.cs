namespace Orchestrator.Scheduler.Admission;

/// <summary>A job's request for a gang of worker slots.</summary>
/// <param name="JobId">The job's name.</param>
/// <param name="Workers">Slots needed, all at once.</param>
public readonly record struct GangRequest(string JobId, int Workers);

/// <summary>What <see cref="GangAdmission.Enqueue"/> decided for one job.</summary>
/// <param name="Granted">True when the job holds its slots now.</param>
/// <param name="QueuePosition">1-based place in the queue when not granted; 0 when granted.</param>
public readonly record struct GangDecision(bool Granted, int QueuePosition);

/// <summary>
/// Gang admission over a fixed number of worker slots, pure logic (no Orleans types; the scheduler
/// grain rebuilds it from persisted state, applies one operation and persists the result).
/// <para>
/// A job starts only when ALL its workers fit. The queue is strict FIFO without backfilling: a job at
/// the head that does not fit blocks smaller jobs behind it (no starvation of big gangs), and a new
/// job queues behind waiting ones even when it would fit. A job asking for more slots than the total
/// capacity is rejected outright, since it could never start.
/// </para>
/// </summary>
public sealed class GangAdmission
{
    private readonly List<GangRequest> _running = [];
    private readonly List<GangRequest> _queue = [];

    /// <summary>Rebuilds the accounting from a capacity, the running grants and the queue (head first).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Capacity below 1, or grants exceed it.</exception>
    /// <exception cref="ArgumentException">A job appears twice.</exception>
    public GangAdmission(int capacity, IEnumerable<GangRequest>? running = null, IEnumerable<GangRequest>? queue = null)
    {
        if (capacity < 1)
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "worker-slot capacity must be at least 1");
        Capacity = capacity;
        foreach (var grant in running ?? [])
        {
            CheckNew(grant);
            _running.Add(grant);
        }
        foreach (var waiting in queue ?? [])
        {
            CheckNew(waiting);
            _queue.Add(waiting);
        }
        if (Used > Capacity)
            throw new ArgumentOutOfRangeException(nameof(running), Used, $"running jobs hold {Used} slots, more than the capacity {Capacity}");
    }

    /// <summary>Total worker slots.</summary>
    public int Capacity { get; private set; }

    /// <summary>Slots held by running jobs.</summary>
    public int Used => _running.Sum(r => r.Workers);

    /// <summary>Slots not held by any running job.</summary>
    public int Free => Capacity - Used;

    /// <summary>Jobs holding slots, in grant order.</summary>
    public IReadOnlyList<GangRequest> Running => _running;

    /// <summary>Jobs waiting, head first.</summary>
    public IReadOnlyList<GangRequest> Queue => _queue;

    /// <summary>
    /// Grants the job's slots when they fit and nobody waits ahead; queues it otherwise. Idempotent:
    /// a job already running or queued gets its current standing back (with the same worker count).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Workers below 1 or above the capacity.</exception>
    /// <exception cref="ArgumentException">The job is known with a different worker count.</exception>
    public GangDecision Enqueue(string jobId, int workers)
    {
        var request = new GangRequest(jobId, workers);
        CheckWorkers(request);
        var running = _running.FindIndex(r => r.JobId == jobId);
        var queued = _queue.FindIndex(r => r.JobId == jobId);
        if (running >= 0 || queued >= 0)
        {
            var known = running >= 0 ? _running[running] : _queue[queued];
            if (known.Workers != workers)
                throw new ArgumentException($"job '{jobId}' already holds or waits for {known.Workers} slots, not {workers}", nameof(workers));
            return running >= 0 ? new GangDecision(true, 0) : new GangDecision(false, queued + 1);
        }
        if (_queue.Count == 0 && workers <= Free)
        {
            _running.Add(request);
            return new GangDecision(true, 0);
        }
        _queue.Add(request);
        return new GangDecision(false, _queue.Count);
    }

    /// <summary>
    /// Frees a running job's slots, or removes a waiting job from the queue, then starts queued jobs from
    /// the head while they fit. Returns those that started, in order. An unknown job changes nothing.
    /// </summary>
    public IReadOnlyList<GangRequest> Release(string jobId)
    {
        _running.RemoveAll(r => r.JobId == jobId);
        _queue.RemoveAll(r => r.JobId == jobId);
        return AdmitFromHead();
    }

    /// <summary>
    /// Changes a running job's gang to <paramref name="workers"/> slots (a rescale) and returns the queued jobs that
    /// start in the slots it gave up. Growing needs the extra slots free now: a rescale never waits in the queue,
    /// so it is refused instead (nothing changes).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Workers below 1, above the capacity, or more than the free slots allow.</exception>
    /// <exception cref="InvalidOperationException">The job holds no slots (it is queued or unknown).</exception>
    public IReadOnlyList<GangRequest> Resize(string jobId, int workers)
    {
        var request = new GangRequest(jobId, workers);
        CheckWorkers(request);
        var index = _running.FindIndex(r => r.JobId == jobId);
        if (index < 0)
            throw new InvalidOperationException($"job '{jobId}' holds no worker slots; only a running job can be rescaled");
        var extra = workers - _running[index].Workers;
        if (extra > Free)
            throw new ArgumentOutOfRangeException(nameof(workers), workers,
                $"job '{jobId}' cannot grow to {workers} workers: it needs {extra} more slots and {Free} of {Capacity} are free");
        _running[index] = request;
        return AdmitFromHead();
    }

    /// <summary>Changes the total slot count and returns the queued jobs that now start.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Below 1, below the slots in use, or below a queued job's need.</exception>
    public IReadOnlyList<GangRequest> SetCapacity(int capacity)
    {
        if (capacity < 1)
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "worker-slot capacity must be at least 1");
        if (capacity < Used)
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"running jobs hold {Used} slots; capacity cannot drop to {capacity}");
        var tooBig = _queue.FirstOrDefault(q => q.Workers > capacity);
        if (tooBig.JobId is not null)
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"queued job '{tooBig.JobId}' needs {tooBig.Workers} slots; capacity cannot drop to {capacity}");
        Capacity = capacity;
        return AdmitFromHead();
    }

    private List<GangRequest> AdmitFromHead()
    {
        var started = new List<GangRequest>();
        while (_queue.Count > 0 && _queue[0].Workers <= Free)
        {
            started.Add(_queue[0]);
            _running.Add(_queue[0]);
            _queue.RemoveAt(0);
        }
        return started;
    }

    private void CheckNew(GangRequest request)
    {
        CheckWorkers(request);
        if (_running.Any(r => r.JobId == request.JobId) || _queue.Any(r => r.JobId == request.JobId))
            throw new ArgumentException($"job '{request.JobId}' appears twice in the slot accounting");
    }

    private void CheckWorkers(GangRequest request)
    {
        if (string.IsNullOrEmpty(request.JobId))
            throw new ArgumentException("job id must not be empty");
        if (request.Workers < 1)
            throw new ArgumentOutOfRangeException(nameof(request), request.Workers, $"job '{request.JobId}' asks for {request.Workers} workers; at least 1 is needed");
        if (request.Workers > Capacity)
            throw new ArgumentOutOfRangeException(nameof(request), request.Workers,
                $"job '{request.JobId}' asks for {request.Workers} workers but the capacity is {Capacity} slots; it could never start");
    }
}
