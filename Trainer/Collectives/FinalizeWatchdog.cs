using System.Runtime.InteropServices;

namespace Orchestrator.Trainer.Collectives;

/// <summary>
/// Bounds MPI_Finalize. MPICH 4.0.2 over UCX's TCP transport sometimes never returns from it: a rank
/// that finished flushing waits in the PMI barrier without progressing UCX, while a peer still waits
/// for that rank's acknowledgement of its own endpoint flush (seen here with 4 ranks over
/// <c>UCX_TLS=tcp,self</c> in about half the runs; every rank's stack in PMPI_Finalize). The job's work
/// is complete by then (the ranks passed a barrier first), so after <see cref="Timeout"/> the process
/// says so and ends with exit code 0 instead of hanging the job, its gang and its slots forever.
/// </summary>
internal sealed partial class FinalizeWatchdog : IDisposable
{
    /// <summary>How long MPI_Finalize may take; <c>ORCHESTRATOR_MPI_FINALIZE_SECONDS</c> overrides the default 15 s.</summary>
    public static TimeSpan Timeout { get; } = TimeSpan.FromSeconds(
        double.TryParse(System.Environment.GetEnvironmentVariable("ORCHESTRATOR_MPI_FINALIZE_SECONDS"),
            System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds > 0 ? seconds : 15);

    private readonly CancellationTokenSource disarmed = new();

    private FinalizeWatchdog(int rank, DateTimeOffset deadline)
    {
        var thread = new Thread(() =>
        {
            var wait = deadline - DateTimeOffset.UtcNow;
            if (disarmed.Token.WaitHandle.WaitOne(wait > TimeSpan.Zero ? wait : TimeSpan.Zero)) return;
            System.Console.Error.WriteLine($"note (rank {rank}): MPI_Finalize did not return within {Timeout.TotalSeconds:0.#} s " +
                "(a known MPICH/UCX teardown hang over TCP); the job's work is done, exiting");
            System.Console.Error.Flush();
            System.Console.Out.Flush();
            TellLauncherFinalized();
            // _exit, not Environment.Exit: the main thread is stuck inside MPICH, and exit handlers could touch it.
            ExitNow(0);
        })
        { IsBackground = true, Name = "mpi-finalize-watchdog" };
        thread.Start();
    }

    /// <summary>
    /// Starts watching; dispose it once MPI_Finalize returned. <paramref name="deadline"/> is the same
    /// instant on every rank, so ranks stranded by the hang all exit together.
    /// </summary>
    public static FinalizeWatchdog Start(int rank, DateTimeOffset deadline) => new(rank, deadline);

    /// <inheritdoc/>
    public void Dispose() => disarmed.Cancel();

    /// <summary>
    /// Hydra kills every other rank of the job when one closes its PMI connection without having sent
    /// PMI's finalize; the stranded ranks leave at different instants, so each says "finalized" first
    /// (simple PMI-1 wire command on the descriptor Hydra passed in <c>PMI_FD</c>). Not waiting for the
    /// acknowledgement: a rank whose main thread waits in the PMI barrier reads it instead and aborts
    /// (seen). But Hydra's proxy dies on a broken pipe, taking the job down with exit 255 and losing its
    /// output, when the reply finds the socket closed (seen in CI): so a short-lived child holds the socket
    /// open past this process's exit.
    /// </summary>
    private static unsafe void TellLauncherFinalized()
    {
        if (!int.TryParse(System.Environment.GetEnvironmentVariable("PMI_FD"), out int fd)) return;
        HoldOpenAfterExit(fd);
        ReadOnlySpan<byte> command = "cmd=finalize\n"u8;
        fixed (byte* bytes = command) Write(fd, bytes, command.Length);
    }

    /// <summary>
    /// Starts <c>sleep 0.5</c> with <paramref name="fd"/> inherited (close-on-exec cleared) and its standard
    /// streams on /dev/null, so Hydra's output forwarding does not wait for it (Hydra does wait for the socket
    /// to close: a longer holder delays the job's end). posix_spawn, not <see cref="System.Diagnostics.Process"/>:
    /// the main thread is stuck inside MPICH, and the runtime's process machinery is more than this needs.
    /// Best effort: without a holder the old race remains.
    /// </summary>
    private static unsafe void HoldOpenAfterExit(int fd)
    {
        const int GetDescriptorFlags = 1, SetDescriptorFlags = 2, CloseOnExec = 1;
        int flags = Fcntl(fd, GetDescriptorFlags, 0);
        if (flags < 0 || Fcntl(fd, SetDescriptorFlags, flags & ~CloseOnExec) < 0) return;
        ReadOnlySpan<byte> shell = "/bin/sh\0"u8, dashC = "-c\0"u8,
            script = "exec /bin/sleep 0.5 </dev/null >/dev/null 2>&1\0"u8;
        fixed (byte* sh = shell, c = dashC, body = script)
        {
            byte** argv = stackalloc byte*[] { sh, c, body, null };
            byte** envp = stackalloc byte*[] { null };
            int pid;
            PosixSpawn(&pid, sh, null, null, argv, envp);
        }
    }

    [LibraryImport("libc", EntryPoint = "fcntl")]
    private static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "posix_spawn")]
    private static unsafe partial int PosixSpawn(int* pid, byte* path, void* fileActions, void* attributes, byte** argv, byte** envp);

    [LibraryImport("libc", EntryPoint = "write")]
    private static unsafe partial nint Write(int fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "_exit")]
    private static partial void ExitNow(int status);
}
