using Spectre.Console;

namespace Orchestrator.Silos.Terminal;

/// <summary>
/// Console settings for the CLI. Spectre.Console hard-wraps every line at 80 columns when the output is
/// not a terminal, which splits paths in errors and notices across lines in logs and pipes; redirected
/// output therefore gets a width no message reaches, so each message stays on one line.
/// </summary>
public static class ConsoleSetup
{
    /// <summary>Width used for redirected output: wider than any message, so nothing is wrapped.</summary>
    public const int RedirectedWidth = 4096;

    private static readonly Lazy<IAnsiConsole> ErrorConsole = new(() =>
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        if (Console.IsErrorRedirected) console.Profile.Width = RedirectedWidth;
        return console;
    });

    /// <summary>The console for errors: standard error, so they reach the user even when stdout goes to a file.</summary>
    public static IAnsiConsole Error => ErrorConsole.Value;

    /// <summary>Call once at startup, before anything is written.</summary>
    public static void Configure()
    {
        // Redirected output (a log, a pipe, mpiexec) gets whole lines per write; before any console is created,
        // so Spectre's consoles write through it.
        if (Console.IsOutputRedirected) Console.SetOut(TextWriter.Synchronized(new LineBufferedWriter(Console.Out)));
        if (Console.IsErrorRedirected) Console.SetError(TextWriter.Synchronized(new LineBufferedWriter(Console.Error)));
        if (Console.IsOutputRedirected || Console.IsErrorRedirected)
            AppDomain.CurrentDomain.ProcessExit += (_, _) => { Console.Out.Flush(); Console.Error.Flush(); };
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = RedirectedWidth;
    }
}
