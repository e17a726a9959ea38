using MPI;

namespace Orchestrator.Trainer.Collectives.Native;

/// <summary>
/// Thin checked wrappers over MPI.NET's raw bindings (<see cref="Unsafe"/>, resolved to MPICH by
/// <see cref="MpichResolver"/>). MPI.NET's typed API takes arrays, has no in-place allreduce and
/// allocates on several overloads; the raw calls take pinned pointers, so spans travel without copies.
/// Handle values are MPICH's (identical to MS-MPI's, which MPI.NET was compiled against).
/// </summary>
internal static unsafe class MpiNative
{
    public const int CommWorld = Unsafe.MPI_COMM_WORLD;
    public const int Byte = Unsafe.MPI_BYTE;
    public const int Int = Unsafe.MPI_INT;
    public const int Float = Unsafe.MPI_FLOAT;
    public const int Double = Unsafe.MPI_DOUBLE;
    public const int LongLong = Unsafe.MPI_LONG_LONG;

    /// <summary>MPICH's <c>MPI_IN_PLACE</c>: <c>(void*)-1</c> (MPI.NET does not export it).</summary>
    public static readonly IntPtr InPlace = new(-1);

    public static int Op(ReduceOp op) => op switch
    {
        ReduceOp.Sum => Unsafe.MPI_SUM,
        ReduceOp.Max => Unsafe.MPI_MAX,
        ReduceOp.Min => Unsafe.MPI_MIN,
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
    };

    /// <summary>Turns an MPI error code into an exception (the world communicator may be set to return errors).</summary>
    public static void Check(int rc, string call)
    {
        if (rc != 0) throw new MpiCallException(call, rc);
    }

    public static void Barrier() => Check(Unsafe.MPI_Barrier(CommWorld), "MPI_Barrier");

    public static void Bcast(void* buffer, int count, int datatype, int root) =>
        Check(Unsafe.MPI_Bcast((IntPtr)buffer, count, datatype, root, CommWorld), "MPI_Bcast");

    public static void AllreduceInPlace(void* buffer, int count, int datatype, int op) =>
        Check(Unsafe.MPI_Allreduce(InPlace, (IntPtr)buffer, count, datatype, op, CommWorld), "MPI_Allreduce");

    public static void Allgather(void* send, int count, void* receive) =>
        Check(Unsafe.MPI_Allgather((IntPtr)send, count, Byte, (IntPtr)receive, count, Byte, CommWorld), "MPI_Allgather");

    /// <summary>MPI_Allgather with MPI_IN_PLACE: rank r's <paramref name="count"/> bytes already sit at
    /// <c>buffer + r * count</c>, and every other rank's block is written beside them.</summary>
    public static void AllgatherInPlace(void* buffer, int count) =>
        Check(Unsafe.MPI_Allgather(InPlace, 0, Byte, (IntPtr)buffer, count, Byte, CommWorld), "MPI_Allgather");

    public static void Send(void* data, int count, int destination, int tag) =>
        Check(Unsafe.MPI_Send((IntPtr)data, count, Byte, destination, tag, CommWorld), "MPI_Send");

    public static int Receive(void* buffer, int capacity, int source, int tag)
    {
        Unsafe.MPI_Status status = default;
        Check(Unsafe.MPI_Recv((IntPtr)buffer, capacity, Byte, source, tag, CommWorld, out status), "MPI_Recv");
        return ReceivedBytes(ref status);
    }

    public static int SendReceive(void* send, int sendCount, int destination, int sendTag, void* receive, int capacity, int source, int receiveTag)
    {
        Unsafe.MPI_Status status = default;
        Check(Unsafe.MPI_Sendrecv((IntPtr)send, sendCount, Byte, destination, sendTag,
            (IntPtr)receive, capacity, Byte, source, receiveTag, CommWorld, out status), "MPI_Sendrecv");
        return ReceivedBytes(ref status);
    }

    private static int ReceivedBytes(ref Unsafe.MPI_Status status)
    {
        Check(Unsafe.MPI_Get_count(ref status, Byte, out int count), "MPI_Get_count");
        return count;
    }
}

/// <summary>An MPI call returned an error code instead of aborting the job.</summary>
public sealed class MpiCallException(string call, int code)
    : Exception($"{call} failed with MPI error code {code} (a peer rank may have died)")
{
    /// <summary>The MPI error code.</summary>
    public int Code { get; } = code;
}
