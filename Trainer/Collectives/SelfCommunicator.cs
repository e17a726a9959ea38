namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// A group of one: collectives are copies or nothing, messages to rank 0 are queued per tag. Lets a
/// single process run the same allreduce code (and its codec round trip) as a multi-rank job.
/// </summary>
public sealed class SelfCommunicator : ICommunicator
{
    private readonly Dictionary<int, Queue<byte[]>> pending = [];

    /// <inheritdoc/>
    public int Rank => 0;
    /// <inheritdoc/>
    public int Size => 1;
    /// <inheritdoc/>
    public int LocalRank => 0;
    /// <inheritdoc/>
    public int LocalSize => 1;

    /// <inheritdoc/>
    public void Barrier() { }

    /// <inheritdoc/>
    public void Broadcast(Span<float> buffer, int root) => CheckRank(root, nameof(root));

    /// <inheritdoc/>
    public void Broadcast(Span<byte> buffer, int root) => CheckRank(root, nameof(root));

    /// <inheritdoc/>
    public void AllreduceSum(Span<float> buffer) { }

    /// <inheritdoc/>
    public void Allreduce(Span<long> values, ReduceOp op) { }

    /// <inheritdoc/>
    public void Allreduce(Span<double> values, ReduceOp op) { }

    /// <inheritdoc/>
    public void Allgather(ReadOnlySpan<byte> local, Span<byte> gathered) => local.CopyTo(gathered);

    /// <inheritdoc/>
    public void Allgather(ReadOnlySpan<byte> local, ReadOnlySpan<int> counts, Span<byte> gathered)
    {
        if (counts.Length != 1 || counts[0] != local.Length)
            throw new ArgumentException($"counts must be [{local.Length}] for one rank", nameof(counts));
        local.CopyTo(gathered);
    }

    /// <inheritdoc/>
    public int AllgatherVariable(ReadOnlySpan<byte> local, Span<int> counts, ref byte[] gathered)
    {
        counts[0] = local.Length;
        if (gathered.Length < local.Length) gathered = new byte[local.Length];
        local.CopyTo(gathered);
        return local.Length;
    }

    /// <inheritdoc/>
    public void Send(ReadOnlySpan<byte> data, int destination, int tag)
    {
        CheckRank(destination, nameof(destination));
        if (!pending.TryGetValue(tag, out var queue)) pending[tag] = queue = new Queue<byte[]>();
        queue.Enqueue(data.ToArray());
    }

    /// <inheritdoc/>
    public int Receive(Span<byte> buffer, int source, int tag)
    {
        CheckRank(source, nameof(source));
        // With one rank nobody else can send later: an empty queue is a deadlock, reported instead of hung.
        if (!pending.TryGetValue(tag, out var queue) || queue.Count == 0)
            throw new InvalidOperationException($"receive with tag {tag} on a one-rank group has no matching send (it would block forever)");
        var message = queue.Dequeue();
        if (message.Length > buffer.Length)
            throw new ArgumentException($"message of {message.Length} bytes does not fit the {buffer.Length}-byte buffer", nameof(buffer));
        message.CopyTo(buffer);
        return message.Length;
    }

    /// <inheritdoc/>
    public int SendReceive(ReadOnlySpan<byte> send, int destination, int sendTag, Span<byte> receive, int source, int receiveTag)
    {
        Send(send, destination, sendTag);
        return Receive(receive, source, receiveTag);
    }

    /// <inheritdoc/>
    public void Dispose() => pending.Clear();

    private static void CheckRank(int rank, string name)
    {
        if (rank != 0) throw new ArgumentOutOfRangeException(name, rank, "a one-rank group has only rank 0");
    }
}
