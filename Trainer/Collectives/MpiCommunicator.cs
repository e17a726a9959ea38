using Orchestrator.Spec;
using Orchestrator.Trainer.Collectives.Native;

namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// The world communicator of an MPICH job (MPI.NET 1.4.0 initialises and finalises MPI; the data
/// calls go straight to MPICH through pinned spans, see <see cref="MpiNative"/>). MPI can be
/// initialised once per process, so there is at most one instance, made by <see cref="Initialize"/>.
/// </summary>
/// <remarks>
/// A rank that dies does not hang the others: MPICH's launcher (Hydra, <c>mpirun.mpich</c>) watches
/// every process and, when one exits without <c>MPI_Finalize</c> or is killed, kills the remaining
/// ranks and exits non-zero ("BAD TERMINATION"). That is the liveness signal the control plane uses.
/// A rank that fails with an exception is different: disposing (MPI_Finalize) would wait for the
/// peers forever, so it must abort the job instead (<see cref="Guard{T}"/>, <see cref="Abort"/>).
/// </remarks>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    private static readonly Lock Gate = new();
    private static bool created;

    private readonly MPI.Environment environment;
    private byte[] staging = [];
    private bool disposed;
    private bool yielding;

    private MpiCommunicator(MPI.Environment environment, int rank, int size)
    {
        this.environment = environment;
        Rank = rank;
        Size = size;
    }

    /// <summary>
    /// The <c>UCX_RNDV_THRESH</c> this process set before MPI started (<see cref="UcxRendezvousPolicy"/>: eager sends where
    /// UCX can only use TCP between nodes), or null when it left UCX's choice.
    /// </summary>
    public static string? EagerThreshold { get; private set; }

    /// <inheritdoc/>
    public int Rank { get; }
    /// <inheritdoc/>
    public int Size { get; }
    /// <inheritdoc/>
    public int LocalRank { get; private set; }
    /// <inheritdoc/>
    public int LocalSize { get; private set; } = 1;

    /// <summary>
    /// Initialises MPI and checks that the process was started the way its world size says:
    /// by <c>mpirun.mpich</c> with as many processes as MPI sees, and as many as
    /// <paramref name="expectedSize"/> when given (the job's worker count).
    /// </summary>
    /// <exception cref="UserFacingException">MPICH is missing or the launcher does not match.</exception>
    public static MpiCommunicator Initialize(int? expectedSize = null)
    {
        lock (Gate)
        {
            if (created) throw new InvalidOperationException("MPI is initialised once per process: reuse the existing MpiCommunicator");
            MpichResolver.Register();
            EagerThreshold = UcxEnvironment.ApplyRendezvousPolicy();
            string[]? args = null;
            // null: MPI_Init must not see (or rewrite) the application's own command line. Serialized (MPI.NET's default,
            // spelled out): the gradient synchronization may call MPI from its communication thread, never concurrently.
            var environment = new MPI.Environment(ref args!, MPI.Threading.Serialized);
            created = true;
            var world = MPI.Communicator.world;
            var communicator = new MpiCommunicator(environment, world.Rank, world.Size);
            try
            {
                CheckLauncher(communicator.Size, expectedSize);
                communicator.FindLocalRanks();
            }
            catch
            {
                communicator.Dispose();
                throw;
            }
            return communicator;
        }
    }

    /// <summary>
    /// The usual way to get a wrong world is a launcher mismatch: a process started without
    /// <c>mpirun.mpich</c> (or by OpenMPI's <c>mpirun</c>) initialises as a lone rank 0 of 1 and would
    /// train alone, silently. Hydra exports PMI_SIZE, OpenMPI OMPI_COMM_WORLD_SIZE.
    /// <paramref name="environment"/> reads a variable (the process's own when null; tests pass others).
    /// </summary>
    internal static void CheckLauncher(int size, int? expectedSize, Func<string, string?>? environment = null)
    {
        environment ??= System.Environment.GetEnvironmentVariable;
        var pmiSize = environment("PMI_SIZE");
        var ompiSize = environment("OMPI_COMM_WORLD_SIZE");
        if (!string.IsNullOrEmpty(pmiSize))
        {
            if (!int.TryParse(pmiSize, out int launched) || launched != size)
                throw new UserFacingException(
                    $"mpirun.mpich started {pmiSize} processes but MPI sees {size} in this one: the process loaded an MPI library " +
                    "that is not the launcher's; install MPICH (Debian package mpich) and launch with mpirun.mpich");
        }
        else if (!string.IsNullOrEmpty(ompiSize))
        {
            throw new UserFacingException(
                $"this process was started by OpenMPI's mpirun ({ompiSize} processes), which MPI.NET cannot use: " +
                "launch the workers with mpirun.mpich -np N");
        }
        if (expectedSize is { } expected && expected != size)
            throw new UserFacingException(string.IsNullOrEmpty(pmiSize)
                ? $"the job has {expected} workers but this process was started without mpirun.mpich and runs alone: launch it with mpirun.mpich -np {expected}"
                : $"the job has {expected} workers but mpirun.mpich started {size} processes: launch it with mpirun.mpich -np {expected}");
    }

    /// <summary>Hydra exports the local rank and count; otherwise ranks sharing a host name are counted.</summary>
    private void FindLocalRanks()
    {
        if (int.TryParse(System.Environment.GetEnvironmentVariable("MPI_LOCALRANKID"), out int localRank)
            && int.TryParse(System.Environment.GetEnvironmentVariable("MPI_LOCALNRANKS"), out int localSize)
            && localRank >= 0 && localRank < localSize)
        {
            LocalRank = localRank;
            LocalSize = localSize;
            return;
        }
        var host = MPI.Environment.ProcessorName ?? System.Environment.MachineName;
        long hash = (long)StableHash(host);
        var all = new long[Size];
        all[Rank] = hash;
        // Each rank fills only its own slot, so a sum is a gather.
        Allreduce(all, ReduceOp.Sum);
        LocalRank = all.AsSpan(0, Rank).Count(hash);
        LocalSize = all.AsSpan().Count(hash);
    }

    private static ulong StableHash(string text)
    {
        ulong h = 14695981039346656037UL; // FNV-1a: string.GetHashCode differs between processes
        foreach (char c in text) h = (h ^ c) * 1099511628211UL;
        return h;
    }

    /// <inheritdoc/>
    /// <remarks>What MPI_Init_thread provided (MPICH built with thread support, as Debian's is, provides what is asked).</remarks>
    public bool SerializedCallsFromAnyThread => MPI.Environment.Threading is MPI.Threading.Serialized or MPI.Threading.Multiple;

    /// <inheritdoc/>
    public void YieldWhileWaiting() => yielding = true;

    /// <inheritdoc/>
    public void Barrier() => MpiNative.Barrier();

    /// <inheritdoc/>
    public void Broadcast(Span<float> buffer, int root)
    {
        CheckRank(root, nameof(root));
        fixed (float* p = buffer) MpiNative.Bcast(p, buffer.Length, MpiNative.Float, root);
    }

    /// <inheritdoc/>
    public void Broadcast(Span<byte> buffer, int root)
    {
        CheckRank(root, nameof(root));
        fixed (byte* p = buffer) MpiNative.Bcast(p, buffer.Length, MpiNative.Byte, root);
    }

    /// <inheritdoc/>
    public void AllreduceSum(Span<float> buffer)
    {
        fixed (float* p = buffer)
        {
            if (yielding) MpiRequests.AllreduceInPlace(p, buffer.Length, MpiNative.Float, MpiNative.Op(ReduceOp.Sum));
            else MpiNative.AllreduceInPlace(p, buffer.Length, MpiNative.Float, MpiNative.Op(ReduceOp.Sum));
        }
    }

    /// <inheritdoc/>
    public void Allreduce(Span<long> values, ReduceOp op)
    {
        fixed (long* p = values) MpiNative.AllreduceInPlace(p, values.Length, MpiNative.LongLong, MpiNative.Op(op));
    }

    /// <inheritdoc/>
    public void Allreduce(Span<double> values, ReduceOp op)
    {
        fixed (double* p = values) MpiNative.AllreduceInPlace(p, values.Length, MpiNative.Double, MpiNative.Op(op));
    }

    /// <inheritdoc/>
    public void Allgather(ReadOnlySpan<byte> local, Span<byte> gathered)
    {
        if (gathered.Length < (long)local.Length * Size)
            throw new ArgumentException($"gathered needs {(long)local.Length * Size} bytes, has {gathered.Length}", nameof(gathered));
        fixed (byte* s = local)
        fixed (byte* r = gathered)
            AllgatherBytes(s, local.Length, r);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Not MPI_Allgatherv: MPICH 4.0.2 pipelines it in 32 KB pieces
    /// (<c>MPIR_CVAR_ALLGATHERV_PIPELINE_MSG_SIZE</c>) with a blocking handshake per piece, which made it
    /// ~27x slower than MPI_Allgather of the same bytes at 4 ranks (1890 vs 69 ms for 1 MB per rank, a C
    /// program) and the ring allreduce seconds long. Instead every rank's block travels padded to the
    /// longest one in a plain MPI_Allgather, then the blocks are packed together. The lengths are known on
    /// every rank (the contract), so all ranks pick the same block size and the same bytes arrive everywhere.
    /// The padding is small for the ring (its chunks differ by at most one element).
    /// </remarks>
    public void Allgather(ReadOnlySpan<byte> local, ReadOnlySpan<int> counts, Span<byte> gathered)
    {
        if (counts.Length != Size) throw new ArgumentException($"counts needs one entry per rank ({Size}), has {counts.Length}", nameof(counts));
        if (counts[Rank] != local.Length) throw new ArgumentException($"counts[{Rank}] = {counts[Rank]} but this rank sends {local.Length} bytes", nameof(counts));
        long total = 0;
        int block = 0;
        foreach (int count in counts)
        {
            if (count < 0) throw new ArgumentException($"counts must not be negative, got {count}", nameof(counts));
            total += count;
            block = Math.Max(block, count);
        }
        if (gathered.Length < total) throw new ArgumentException($"gathered needs {total} bytes, has {gathered.Length}", nameof(gathered));
        if (block == 0) return; // every rank sees the same counts, so every rank skips the collective together

        // In place when the caller's buffer has room for the padded blocks (the ring sizes it so), else through a staging buffer.
        int padded = checked(block * Size);
        bool inPlace = gathered.Length >= padded;
        var exchange = inPlace ? gathered[..padded] : BucketMath.Ensure(ref staging, padded).AsSpan(0, padded);
        local.CopyTo(exchange.Slice(Rank * block, local.Length));
        fixed (byte* p = exchange)
        {
            if (yielding) MpiRequests.AllgatherInPlace(p, block);
            else MpiNative.AllgatherInPlace(p, block);
        }

        // Pack: block r moves left from r * block to the sum of the earlier counts. Ascending order never
        // overwrites a block not yet moved (its destination ends before (r + 1) * block); CopyTo handles the overlap.
        int offset = 0;
        for (int r = 0; r < Size; r++)
        {
            int from = r * block;
            if (from != offset || !inPlace)
                exchange.Slice(from, counts[r]).CopyTo(gathered[offset..]);
            offset += counts[r];
        }
    }

    /// <inheritdoc/>
    public int AllgatherVariable(ReadOnlySpan<byte> local, Span<int> counts, ref byte[] gathered)
    {
        if (counts.Length != Size) throw new ArgumentException($"counts needs one entry per rank ({Size}), has {counts.Length}", nameof(counts));
        int length = local.Length;
        fixed (int* c = counts) AllgatherBytes(&length, sizeof(int), c);
        long total = 0;
        int block = 0;
        foreach (int c in counts)
        {
            total += c;
            block = Math.Max(block, c);
        }
        // Room for the padded blocks, so the exchange above runs in place.
        long padded = (long)block * Size;
        if (gathered.Length < padded) gathered = new byte[checked((int)padded)];
        Allgather(local, counts, gathered);
        return (int)total;
    }

    private void AllgatherBytes(void* send, int count, void* receive)
    {
        if (yielding) MpiRequests.Allgather(send, count, receive);
        else MpiNative.Allgather(send, count, receive);
    }

    /// <inheritdoc/>
    public void Send(ReadOnlySpan<byte> data, int destination, int tag)
    {
        CheckRank(destination, nameof(destination));
        fixed (byte* p = data) MpiNative.Send(p, data.Length, destination, tag);
    }

    /// <inheritdoc/>
    public int Receive(Span<byte> buffer, int source, int tag)
    {
        CheckRank(source, nameof(source));
        fixed (byte* p = buffer) return MpiNative.Receive(p, buffer.Length, source, tag);
    }

    /// <inheritdoc/>
    public int SendReceive(ReadOnlySpan<byte> send, int destination, int sendTag, Span<byte> receive, int source, int receiveTag)
    {
        CheckRank(destination, nameof(destination));
        CheckRank(source, nameof(source));
        fixed (byte* s = send)
        fixed (byte* r = receive)
            return yielding
                ? MpiRequests.SendReceive(s, send.Length, destination, sendTag, r, receive.Length, source, receiveTag)
                : MpiNative.SendReceive(s, send.Length, destination, sendTag, r, receive.Length, source, receiveTag);
    }

    /// <summary>
    /// Runs <paramref name="body"/>; an exception escaping it aborts the whole job (after printing it)
    /// instead of reaching <see cref="Dispose"/>: MPI_Finalize waits for every rank, so a rank that
    /// failed alone would hang there while its peers wait in the next collective (observed with
    /// MPICH 4.0: the job never ends). With one rank the exception propagates normally.
    /// </summary>
    public T Guard<T>(Func<T> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (Size > 1)
        {
            System.Console.Error.WriteLine(e is UserFacingException ? $"error (rank {Rank}): {e.Message}" : $"rank {Rank} failed: {e}");
            Abort(e is UserFacingException ? 2 : 1);
            throw; // not reached: Abort ends the process
        }
    }

    /// <summary>Ends every rank of the job now (MPI_Abort): the way out when this rank cannot continue.</summary>
    public void Abort(int errorCode)
    {
        System.Console.Error.Flush();
        System.Console.Out.Flush();
        // Hydra tears every rank down on MPI_Abort, and what its proxy has not yet read from this rank's pipes is
        // lost with it: seen under load as a job that failed without the line saying why. A moment lets it drain.
        Thread.Sleep(TimeSpan.FromMilliseconds(300));
        MPI.Unsafe.MPI_Abort(MpiNative.CommWorld, errorCode);
        System.Environment.Exit(errorCode); // MPI_Abort does not return; this is the belt to its braces
    }

    /// <summary>
    /// Finalises MPI. Collective: every rank must get here; a failing rank calls <see cref="Abort"/> instead
    /// (see <see cref="Guard{T}"/>). The allreduce first makes every rank's work complete before any rank
    /// tears down, so the <see cref="FinalizeWatchdog"/> can end a finalize that hangs without losing anything.
    /// </summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        if (Size == 1)
        {
            environment.Dispose();
            return;
        }
        // One deadline for all ranks (the max of each rank's now + timeout; the allreduce is the barrier):
        // Hydra kills a job's other ranks as soon as one exits unfinalised, so the ranks a hang strands
        // must all leave at the same moment for the job to end with exit code 0.
        long[] deadline = [DateTimeOffset.UtcNow.Add(FinalizeWatchdog.Timeout).ToUnixTimeMilliseconds()];
        Allreduce(deadline, ReduceOp.Max);
        using var watchdog = FinalizeWatchdog.Start(Rank, DateTimeOffset.FromUnixTimeMilliseconds(deadline[0]));
        environment.Dispose();
    }

    private void CheckRank(int rank, string name)
    {
        if ((uint)rank >= (uint)Size) throw new ArgumentOutOfRangeException(name, rank, $"ranks are 0..{Size - 1}");
    }
}
