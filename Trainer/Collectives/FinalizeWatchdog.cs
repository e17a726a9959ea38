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

    private FinalizeWatchdog(int rank, TimeSpan timeout)
    {
        var thread = new Thread(() =>
        {
            if (disarmed.Token.WaitHandle.WaitOne(timeout)) return;
            System.Console.Error.WriteLine($"note (rank {rank}): MPI_Finalize did not return within {timeout.TotalSeconds:0.#} s " +
                "(a known MPICH/UCX teardown hang over TCP); the job's work is done, exiting");
            System.Console.Error.Flush();
            System.Console.Out.Flush();
            // _exit, not Environment.Exit: the main thread is stuck inside MPICH, and exit handlers could touch it.
            ExitNow(0);
        })
        { IsBackground = true, Name = "mpi-finalize-watchdog" };
        thread.Start();
    }

    /// <summary>Starts watching; dispose it once MPI_Finalize returned.</summary>
    public static FinalizeWatchdog Start(int rank, TimeSpan? timeout = null) => new(rank, timeout ?? Timeout);

    /// <inheritdoc/>
    public void Dispose() => disarmed.Cancel();

    [LibraryImport("libc", EntryPoint = "_exit")]
    private static partial void ExitNow(int status);
}
