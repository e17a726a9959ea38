namespace Orchestrator.Silos.Terminal;

/// <summary>
/// Ctrl+C (SIGINT) as a cancellation token, for as long as the instance lives: the process does not end, the
/// command decides what an interruption means (finish the step and checkpoint, cancel the job, stop watching) and
/// then exits with <see cref="ExitCode"/>. The one place the CLI subscribes to <see cref="Console.CancelKeyPress"/>.
/// </summary>
public sealed class CtrlC : IDisposable
{
    /// <summary>The exit code of a command ended by Ctrl+C (128 + SIGINT, as shells report it).</summary>
    public const int ExitCode = 130;

    private readonly CancellationTokenSource pressed = new();
    private readonly ConsoleCancelEventHandler handler;

    private CtrlC()
    {
        handler = (_, e) =>
        {
            e.Cancel = true; // the command winds down itself
            pressed.Cancel();
        };
        Console.CancelKeyPress += handler;
    }

    /// <summary>Starts listening; dispose to stop (a later command in the same process must not see this one's press).</summary>
    public static CtrlC Listen() => new();

    /// <summary>Cancelled when Ctrl+C is pressed.</summary>
    public CancellationToken Token => pressed.Token;

    /// <summary>Whether Ctrl+C was pressed.</summary>
    public bool Pressed => pressed.IsCancellationRequested;

    /// <inheritdoc/>
    public void Dispose()
    {
        Console.CancelKeyPress -= handler;
        pressed.Dispose();
    }
}
