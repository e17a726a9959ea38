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
    /// acknowledgement: a rank whose main thread waits in the PMI barrier would race it for the reply.
    /// </summary>
    private static unsafe void TellLauncherFinalized()
    {
        if (!int.TryParse(System.Environment.GetEnvironmentVariable("PMI_FD"), out int fd)) return;
        ReadOnlySpan<byte> command = "cmd=finalize\n"u8;
        fixed (byte* bytes = command) Write(fd, bytes, command.Length);
    }

    [LibraryImport("libc", EntryPoint = "write")]
    private static unsafe partial nint Write(int fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "_exit")]
    private static partial void ExitNow(int status);
}
