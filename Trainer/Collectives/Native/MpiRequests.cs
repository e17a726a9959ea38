using System.Runtime.InteropServices;
using MPI;

namespace Orchestrator.Trainer.Collectives.Native;

/// <summary>
/// MPICH's nonblocking calls and a wait that sleeps between polls (<see cref="PollingBackoff"/>), for a thread that waits
/// on the network while another thread of the rank computes. MPI.NET 1.4.0 binds MPI-2 only, so the functions are taken
/// from MPICH itself (<see cref="MpichResolver.Export"/>); handles are MPICH's 32-bit integers, as in <see cref="MpiNative"/>.
/// </summary>
internal static unsafe partial class MpiRequests
{
    private static readonly delegate* unmanaged<void*, int, int, int, int, int, int*, int> IsendFn =
        (delegate* unmanaged<void*, int, int, int, int, int, int*, int>)MpichResolver.Export("MPI_Isend");
    private static readonly delegate* unmanaged<void*, int, int, int, int, int, int*, int> IrecvFn =
        (delegate* unmanaged<void*, int, int, int, int, int, int*, int>)MpichResolver.Export("MPI_Irecv");
    private static readonly delegate* unmanaged<void*, void*, int, int, int, int, int*, int> IallreduceFn =
        (delegate* unmanaged<void*, void*, int, int, int, int, int*, int>)MpichResolver.Export("MPI_Iallreduce");
    private static readonly delegate* unmanaged<void*, int, int, void*, int, int, int, int*, int> IallgatherFn =
        (delegate* unmanaged<void*, int, int, void*, int, int, int, int*, int>)MpichResolver.Export("MPI_Iallgather");
    private static readonly delegate* unmanaged<int*, int*, Unsafe.MPI_Status*, int> TestFn =
        (delegate* unmanaged<int*, int*, Unsafe.MPI_Status*, int>)MpichResolver.Export("MPI_Test");

    /// <summary>In-place allreduce of <paramref name="count"/> values, waited for politely.</summary>
    public static void AllreduceInPlace(void* buffer, int count, int datatype, int op)
    {
        int request;
        MpiNative.Check(IallreduceFn((void*)MpiNative.InPlace, buffer, count, datatype, op, MpiNative.CommWorld, &request), "MPI_Iallreduce");
        Wait(&request, null, "MPI_Iallreduce");
    }

    /// <summary><see cref="MpiNative.Allgather"/>, waited for politely.</summary>
    public static void Allgather(void* send, int count, void* receive)
    {
        int request;
        MpiNative.Check(IallgatherFn(send, count, MpiNative.Byte, receive, count, MpiNative.Byte, MpiNative.CommWorld, &request), "MPI_Iallgather");
        Wait(&request, null, "MPI_Iallgather");
    }

    /// <summary><see cref="MpiNative.AllgatherInPlace"/>, waited for politely.</summary>
    public static void AllgatherInPlace(void* buffer, int count)
    {
        int request;
        MpiNative.Check(IallgatherFn((void*)MpiNative.InPlace, 0, MpiNative.Byte, buffer, count, MpiNative.Byte, MpiNative.CommWorld, &request), "MPI_Iallgather");
        Wait(&request, null, "MPI_Iallgather");
    }

    /// <summary><see cref="MpiNative.SendReceive"/> as a receive and a send in flight together, waited for politely.</summary>
    public static int SendReceive(void* send, int sendCount, int destination, int sendTag, void* receive, int capacity, int source, int receiveTag)
    {
        int receiving, sending;
        MpiNative.Check(IrecvFn(receive, capacity, MpiNative.Byte, source, receiveTag, MpiNative.CommWorld, &receiving), "MPI_Irecv");
        MpiNative.Check(IsendFn(send, sendCount, MpiNative.Byte, destination, sendTag, MpiNative.CommWorld, &sending), "MPI_Isend");
        Unsafe.MPI_Status status = default;
        Wait(&sending, null, "MPI_Isend");
        Wait(&receiving, &status, "MPI_Irecv");
        MpiNative.Check(Unsafe.MPI_Get_count(ref status, MpiNative.Byte, out int count), "MPI_Get_count");
        return count;
    }

    /// <summary>Polls <paramref name="request"/> until it completes, pausing between polls as <see cref="PollingBackoff"/> says.</summary>
    private static void Wait(int* request, Unsafe.MPI_Status* status, string call)
    {
        Unsafe.MPI_Status ignored = default;
        var backoff = new PollingBackoff();
        while (true)
        {
            int done;
            MpiNative.Check(TestFn(request, &done, status is null ? &ignored : status), call);
            if (done != 0) return;
            var pause = backoff.Next();
            if (pause > TimeSpan.Zero) Sleep(pause);
        }
    }

    private static void Sleep(TimeSpan pause)
    {
        var time = new TimeSpec { Seconds = 0, Nanoseconds = pause.Ticks * 100 };
        _ = NanoSleep(&time, null); // woken early by a signal: the next poll comes sooner, which is harmless
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "nanosleep")]
    private static partial int NanoSleep(TimeSpec* requested, TimeSpec* remaining);
}
