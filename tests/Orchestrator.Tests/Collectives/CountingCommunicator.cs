using System.Runtime.CompilerServices;
using Orchestrator.Trainer.Collectives;

namespace Orchestrator.Tests.Collectives;

/// <summary>
/// Passes every call to an inner communicator and counts them by method name (overloads together), so a
/// test can see which collectives a caller really used: traffic alone cannot tell a ring from
/// MPI_Allreduce, both send 2 (W-1)/W of the buffer.
/// </summary>
internal sealed class CountingCommunicator(ICommunicator inner) : ICommunicator
{
    private readonly Dictionary<string, int> calls = [];

    /// <summary>Calls of <paramref name="method"/> so far (a name from <c>nameof(ICommunicator.X)</c>).</summary>
    public int Calls(string method) => calls.GetValueOrDefault(method);

    private void Count([CallerMemberName] string method = "") => calls[method] = Calls(method) + 1;

    public int Rank => inner.Rank;
    public int Size => inner.Size;
    public int LocalRank => inner.LocalRank;
    public int LocalSize => inner.LocalSize;

    public void YieldWhileWaiting() => inner.YieldWhileWaiting();
    public void Barrier() { Count(); inner.Barrier(); }
    public void Broadcast(Span<float> buffer, int root) { Count(); inner.Broadcast(buffer, root); }
    public void Broadcast(Span<byte> buffer, int root) { Count(); inner.Broadcast(buffer, root); }
    public void AllreduceSum(Span<float> buffer) { Count(); inner.AllreduceSum(buffer); }
    public void Allreduce(Span<long> values, ReduceOp op) { Count(); inner.Allreduce(values, op); }
    public void Allreduce(Span<double> values, ReduceOp op) { Count(); inner.Allreduce(values, op); }
    public void Allgather(ReadOnlySpan<byte> local, Span<byte> gathered) { Count(); inner.Allgather(local, gathered); }
    public void Allgather(ReadOnlySpan<byte> local, ReadOnlySpan<int> counts, Span<byte> gathered) { Count(); inner.Allgather(local, counts, gathered); }

    public int AllgatherVariable(ReadOnlySpan<byte> local, Span<int> counts, ref byte[] gathered)
    {
        Count();
        return inner.AllgatherVariable(local, counts, ref gathered);
    }

    public void Send(ReadOnlySpan<byte> data, int destination, int tag) { Count(); inner.Send(data, destination, tag); }

    public int Receive(Span<byte> buffer, int source, int tag)
    {
        Count();
        return inner.Receive(buffer, source, tag);
    }

    public int SendReceive(ReadOnlySpan<byte> send, int destination, int sendTag, Span<byte> receive, int source, int receiveTag)
    {
        Count();
        return inner.SendReceive(send, destination, sendTag, receive, source, receiveTag);
    }

    public void Dispose() => inner.Dispose();
}
