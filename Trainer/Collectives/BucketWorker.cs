using System.Diagnostics;

namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// The communication thread of <c>compression.overlap</c>: runs posted jobs (one bucket's encode and allreduce each)
/// one at a time, in the order posted, while the training thread goes on with the backward. The training thread makes
/// no MPI call until <see cref="Drain"/> returned, so MPI is only ever called by one thread at a time (MPI.NET asks
/// for MPI_THREAD_SERIALIZED, which is what this needs).
/// </summary>
/// <remarks>Records when each job ran, so a step can tell how much of its synchronization ran before the training thread
/// began to wait (hidden behind the backward).</remarks>
internal sealed class BucketWorker : IDisposable
{
    private readonly object gate = new(); // Monitor.Wait and Pulse need a monitor, not a Lock
    private readonly Queue<Action> queue = new();
    private readonly List<(long Start, long End)> ran = [];
    private readonly Thread thread;
    private bool busy;
    private bool stopping;
    private long posted; // jobs posted so far: the ticket of the last one
    private long finished; // jobs run so far (they run in ticket order)
    private Exception? failure;

    public BucketWorker(string name)
    {
        thread = new Thread(Loop) { IsBackground = true, Name = name };
        thread.Start();
    }

    /// <summary>Queues <paramref name="job"/> behind the jobs posted before it; returns its ticket for <see cref="WaitFor"/>.</summary>
    public long Post(Action job)
    {
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(stopping, this);
            queue.Enqueue(job);
            Monitor.PulseAll(gate);
            return ++posted;
        }
    }

    /// <summary>
    /// Waits until the job with <paramref name="ticket"/> (and so every job posted before it) has run; rethrows a job
    /// failure as <see cref="Drain"/> does. The jobs after it may still be running.
    /// </summary>
    public void WaitFor(long ticket)
    {
        lock (gate)
        {
            while (finished < ticket && failure is null) Monitor.Wait(gate);
            if (failure is { } failed)
            {
                failure = null;
                while (busy) Monitor.Wait(gate); // the queue is cleared: nothing else will run
                throw new InvalidOperationException($"the gradient synchronization thread failed: {failed.Message}", failed);
            }
        }
    }

    /// <summary>
    /// Waits until every posted job has run; rethrows the first job failure (the jobs after a failure are dropped).
    /// Returns the seconds the jobs ran before <paramref name="waitFrom"/> (a <see cref="Stopwatch.GetTimestamp"/>) since
    /// the last drain, the part of their work that overlapped what the caller did before it began to wait.
    /// </summary>
    public double Drain(long waitFrom)
    {
        lock (gate)
        {
            while (busy || queue.Count > 0) Monitor.Wait(gate);
            double hidden = 0;
            foreach (var (start, end) in ran)
                hidden += Math.Max(0, Math.Min(end, waitFrom) - start);
            ran.Clear();
            if (failure is { } failed)
            {
                failure = null;
                throw new InvalidOperationException($"the gradient synchronization thread failed: {failed.Message}", failed);
            }
            return hidden / Stopwatch.Frequency;
        }
    }

    private void Loop()
    {
        while (true)
        {
            Action job;
            lock (gate)
            {
                while (queue.Count == 0 && !stopping) Monitor.Wait(gate);
                if (queue.Count == 0) return; // stopping, nothing left
                job = queue.Dequeue();
                busy = true;
            }
            long start = Stopwatch.GetTimestamp();
            Exception? error = null;
            try
            {
                job();
            }
            catch (Exception e)
            {
                error = e;
            }
            long end = Stopwatch.GetTimestamp();
            lock (gate)
            {
                ran.Add((start, end));
                finished++;
                if (error is not null)
                {
                    failure ??= error;
                    finished += queue.Count; // dropped: no one may wait for them
                    queue.Clear(); // a bucket after a failed one would start a collective the others may never join
                }
                busy = false;
                Monitor.PulseAll(gate);
            }
        }
    }

    public void Dispose()
    {
        lock (gate)
        {
            if (stopping) return;
            stopping = true;
            Monitor.PulseAll(gate);
        }
        thread.Join();
    }
}
