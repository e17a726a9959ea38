using System.Collections.Concurrent;
using Orchestrator.Trainer.Collectives;

namespace Orchestrator.Tests.Collectives;

/// <summary>
/// W ranks as W threads of the test process, each with its own <see cref="ICommunicator"/> over
/// shared memory: the allreduce algorithms' bookkeeping (chunking, hops, ownership) runs for any W
/// without MPI. Collectives deposit each rank's contribution in a slot and read all slots between two
/// barriers; reductions add in rank order, so every rank gets the same bits. Every wait has a
/// timeout, so a mismatched collective fails the test instead of hanging it.
/// </summary>
internal sealed class InProcessWorld
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(20);

    private readonly Barrier barrier;
    private readonly object?[] slots;
    private readonly ConcurrentDictionary<(int From, int To, int Tag), BlockingCollection<byte[]>> mailboxes = new();

    private InProcessWorld(int size)
    {
        Size = size;
        barrier = new Barrier(size);
        slots = new object?[size];
    }

    public int Size { get; }

    /// <summary>Runs <paramref name="body"/> on <paramref name="size"/> threads, one rank each; rethrows the first failure.</summary>
    public static T[] Run<T>(int size, Func<ICommunicator, T> body)
    {
        var world = new InProcessWorld(size);
        var results = new T[size];
        var threads = Enumerable.Range(0, size).Select(rank => Task.Factory.StartNew(() =>
        {
            using var communicator = new RankCommunicator(world, rank);
            results[rank] = body(communicator);
        }, TaskCreationOptions.LongRunning)).ToArray();
        if (!Task.WaitAll(threads, TimeSpan.FromSeconds(60)))
            throw new TimeoutException($"the {size} in-process ranks did not finish within 60 s");
        return results;
    }

    /// <summary>Every rank deposits <paramref name="contribution"/>, then all read every slot.</summary>
    private object?[] Exchange(int rank, object? contribution)
    {
        slots[rank] = contribution;
        Wait();
        var all = (object?[])slots.Clone();
        Wait(); // nobody overwrites a slot before everybody has read them all
        return all;
    }

    private void Wait()
    {
        if (!barrier.SignalAndWait(WaitLimit))
            throw new TimeoutException("a rank did not reach the collective (mismatched calls or a failed rank)");
    }

    private BlockingCollection<byte[]> Mailbox(int from, int to, int tag) => mailboxes.GetOrAdd((from, to, tag), _ => new BlockingCollection<byte[]>());

    private sealed class RankCommunicator(InProcessWorld world, int rank) : ICommunicator
    {
        public int Rank => rank;
        public int Size => world.Size;
        public int LocalRank => rank;
        public int LocalSize => world.Size;

        public void Barrier() => world.Exchange(rank, null);

        public void Broadcast(Span<float> buffer, int root)
        {
            var all = world.Exchange(rank, rank == root ? buffer.ToArray() : null);
            ((float[])all[root]!).CopyTo(buffer);
        }

        public void Broadcast(Span<byte> buffer, int root)
        {
            var all = world.Exchange(rank, rank == root ? buffer.ToArray() : null);
            ((byte[])all[root]!).CopyTo(buffer);
        }

        public void AllreduceSum(Span<float> buffer)
        {
            var all = world.Exchange(rank, buffer.ToArray());
            for (int i = 0; i < buffer.Length; i++)
            {
                float sum = 0;
                foreach (var contribution in all) sum += ((float[])contribution!)[i];
                buffer[i] = sum;
            }
        }

        public void Allreduce(Span<long> values, ReduceOp op)
        {
            var all = world.Exchange(rank, values.ToArray());
            for (int i = 0; i < values.Length; i++)
            {
                var column = all.Select(c => ((long[])c!)[i]);
                values[i] = op switch { ReduceOp.Sum => column.Sum(), ReduceOp.Max => column.Max(), _ => column.Min() };
            }
        }

        public void Allreduce(Span<double> values, ReduceOp op)
        {
            var all = world.Exchange(rank, values.ToArray());
            for (int i = 0; i < values.Length; i++)
            {
                double result = ((double[])all[0]!)[i];
                for (int r = 1; r < all.Length; r++)
                {
                    double v = ((double[])all[r]!)[i];
                    result = op switch { ReduceOp.Sum => result + v, ReduceOp.Max => Math.Max(result, v), _ => Math.Min(result, v) };
                }
                values[i] = result;
            }
        }

        public void Allgather(ReadOnlySpan<byte> local, Span<byte> gathered)
        {
            var all = world.Exchange(rank, local.ToArray());
            int offset = 0;
            foreach (var contribution in all)
            {
                var bytes = (byte[])contribution!;
                if (bytes.Length != local.Length) throw new InvalidOperationException("allgather lengths differ across ranks");
                bytes.CopyTo(gathered[offset..]);
                offset += bytes.Length;
            }
        }

        public void Allgather(ReadOnlySpan<byte> local, ReadOnlySpan<int> counts, Span<byte> gathered)
        {
            if (counts[rank] != local.Length) throw new ArgumentException("counts[rank] differs from the local length");
            var all = world.Exchange(rank, local.ToArray());
            int offset = 0;
            for (int r = 0; r < all.Length; r++)
            {
                var bytes = (byte[])all[r]!;
                if (bytes.Length != counts[r]) throw new InvalidOperationException($"rank {r} sent {bytes.Length} bytes, counts say {counts[r]}");
                bytes.CopyTo(gathered[offset..]);
                offset += bytes.Length;
            }
        }

        public int AllgatherVariable(ReadOnlySpan<byte> local, Span<int> counts, ref byte[] gathered)
        {
            var all = world.Exchange(rank, local.ToArray());
            int total = all.Sum(c => ((byte[])c!).Length);
            if (gathered.Length < total) gathered = new byte[total];
            int offset = 0;
            for (int r = 0; r < all.Length; r++)
            {
                var bytes = (byte[])all[r]!;
                counts[r] = bytes.Length;
                bytes.CopyTo(gathered, offset);
                offset += bytes.Length;
            }
            return total;
        }

        public void Send(ReadOnlySpan<byte> data, int destination, int tag) =>
            world.Mailbox(rank, destination, tag).Add(data.ToArray());

        public int Receive(Span<byte> buffer, int source, int tag)
        {
            if (!world.Mailbox(source, rank, tag).TryTake(out var message, WaitLimit))
                throw new TimeoutException($"rank {rank} waited too long for a message from {source} with tag {tag}");
            if (message.Length > buffer.Length) throw new InvalidOperationException($"message of {message.Length} bytes truncated to {buffer.Length}");
            message.CopyTo(buffer);
            return message.Length;
        }

        public int SendReceive(ReadOnlySpan<byte> send, int destination, int sendTag, Span<byte> receive, int source, int receiveTag)
        {
            Send(send, destination, sendTag); // buffered: no deadlock between facing sends
            return Receive(receive, source, receiveTag);
        }

        public void Dispose() { }
    }
}
