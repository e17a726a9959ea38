using System.Runtime.InteropServices;
using Orleans.Runtime;

namespace Orchestrator.Silos.Hosting;

/// <summary>
/// How a silo ends on Orleans' fatal errors. A silo the cluster declared dead (the others could not reach it over its silo
/// port: a partition, a frozen process, or other silos refusing its TLS certificate) is not a bug: it writes one line with
/// the reason and what to check, and exits with code 1 at once (no cleanup, as Orleans' own handler; its gangs are left to
/// the cluster as after a SIGKILL). Any other fatal error is a bug and stays a crash with its stack, as in Orleans.
/// </summary>
public sealed class FatalErrorExit : IFatalErrorHandler
{
    /// <summary>The exit code of a silo the cluster declared dead.</summary>
    public const int DeclaredDeadExitCode = 1;

    private const string DeadContext = "I have been told I am dead";

    /// <inheritdoc />
    public bool IsUnexpected(Exception exception) => exception is not ThreadAbortException;

    /// <inheritdoc />
    public void OnFatalException(object? sender = null, string? context = null, Exception? exception = null)
    {
        if (exception is null && context is not null && context.StartsWith(DeadContext, StringComparison.Ordinal))
        {
            Console.Error.WriteLine(DeclaredDeadMessage(context));
            Console.Error.Flush();
            Console.Out.Flush();
            _exit(DeclaredDeadExitCode);
        }
        var message = $"FATAL EXCEPTION from {sender?.ToString() ?? "null"}. Context: {context ?? "null"}. Exception: {exception}";
        Console.Error.WriteLine(message);
        Environment.FailFast(message, exception);
    }

    /// <summary>The line a silo declared dead writes, from Orleans' context (its reason, without the membership dump).</summary>
    public static string DeclaredDeadMessage(string context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var reason = context.Split("Reason: ", 2) is [_, var rest] ? rest.Split(". Membership:", 2)[0].Trim().TrimEnd('.') : context;
        return $"error: the cluster declared this silo dead ({reason}), so it stops: the other silos could not reach it over its silo port. " +
            "With tls, every silo's certificate must come from the authority the others trust (a 'tls: refused' line here or in their logs names it); " +
            "otherwise check that silo.host and silo.port are reachable from the other silos.";
    }

    [DllImport("libc", EntryPoint = "_exit")]
    private static extern void _exit(int status);
}
