namespace Orchestrator.Trainer.Collectives;

/// <summary>Element-wise reduction for the small control-value allreduces.</summary>
public enum ReduceOp { Sum, Max, Min }

/// <summary>
/// The process group the gradient allreduce runs over: ranks 0..Size-1, collectives and point-to-point
/// messages of plain buffers. Every collective must be called by every rank, in the same order, with
/// matching sizes (the MPI contract); a rank that skips one deadlocks the others until the launcher
/// aborts the job. Implementations: <see cref="MpiCommunicator"/> (MPICH), <see cref="SelfCommunicator"/>
/// (one process). Buffers are spans so the hot path pins caller memory instead of allocating.
/// </summary>
public interface ICommunicator : IDisposable
{
    /// <summary>This process's rank, 0..Size-1.</summary>
    int Rank { get; }

    /// <summary>Number of ranks in the group.</summary>
    int Size { get; }

    /// <summary>This process's index among the ranks on the same host (to pick a GPU).</summary>
    int LocalRank { get; }

    /// <summary>Number of ranks on this host.</summary>
    int LocalSize { get; }

    /// <summary>Whether calls may come from any thread, one at a time (MPI_THREAD_SERIALIZED or better): the gradient
    /// synchronization's communication thread needs it (<c>compression.overlap</c>).</summary>
    bool SerializedCallsFromAnyThread => true;

    /// <summary>
    /// From now on, the gradient calls (fp32 sums, allgathers, send-receives) wait by polling with short sleeps instead of
    /// busy-polling, leaving the cores to another thread of this rank (the backward, with <c>compression.overlap</c>).
    /// Communicators that never busy-wait ignore it.
    /// </summary>
    void YieldWhileWaiting() { }

    /// <summary>Returns once every rank has called it.</summary>
    void Barrier();

    /// <summary>Overwrites <paramref name="buffer"/> on every rank with <paramref name="root"/>'s contents (same length everywhere).</summary>
    void Broadcast(Span<float> buffer, int root);

    /// <inheritdoc cref="Broadcast(Span{float}, int)"/>
    void Broadcast(Span<byte> buffer, int root);

    /// <summary>Element-wise fp32 sum across ranks, in place: every rank ends with the same sums.</summary>
    void AllreduceSum(Span<float> buffer);

    /// <summary>Element-wise reduction of a few control values (sample counts, flags), in place.</summary>
    void Allreduce(Span<long> values, ReduceOp op);

    /// <inheritdoc cref="Allreduce(Span{long}, ReduceOp)"/>
    void Allreduce(Span<double> values, ReduceOp op);

    /// <summary>Every rank contributes <paramref name="local"/> (same length on every rank);
    /// <paramref name="gathered"/> (Size x that length) receives the contributions in rank order.</summary>
    void Allgather(ReadOnlySpan<byte> local, Span<byte> gathered);

    /// <summary>Allgather with per-rank lengths every rank already knows: <paramref name="counts"/>[r]
    /// bytes from rank r, concatenated in rank order into <paramref name="gathered"/> (at least their sum;
    /// bytes past the sum are scratch). Giving it Size x max(counts) bytes lets the MPI implementation,
    /// which sends every block padded to the longest, work in place instead of through a staging copy.</summary>
    void Allgather(ReadOnlySpan<byte> local, ReadOnlySpan<int> counts, Span<byte> gathered);

    /// <summary>
    /// Allgather of lengths nobody knows in advance: the lengths travel first (into
    /// <paramref name="counts"/>, length Size), then the bytes, concatenated in rank order into
    /// <paramref name="gathered"/>, which may be replaced by a larger array (when shorter than the total,
    /// or than the padded exchange of the implementation). Returns the total length.
    /// </summary>
    int AllgatherVariable(ReadOnlySpan<byte> local, Span<int> counts, ref byte[] gathered);

    /// <summary>Sends <paramref name="data"/> to <paramref name="destination"/>; may block until it is received
    /// (MPICH's send to the own rank always does: pair it with a receive through <see cref="SendReceive"/>).</summary>
    void Send(ReadOnlySpan<byte> data, int destination, int tag);

    /// <summary>Receives one message from <paramref name="source"/> with <paramref name="tag"/> into
    /// <paramref name="buffer"/> (which must be large enough); returns its length.</summary>
    int Receive(Span<byte> buffer, int source, int tag);

    /// <summary>
    /// Sends to one rank while receiving from another, without the deadlock of two blocking sends
    /// facing each other (a ring step). Returns the received length.
    /// </summary>
    int SendReceive(ReadOnlySpan<byte> send, int destination, int sendTag, Span<byte> receive, int source, int receiveTag);
}
