using Orchestrator.Spec;
using Spectre.Console;

namespace Orchestrator.Silos.Terminal;

/// <summary>
/// Runs a command body: a <see cref="UserFacingException"/> becomes its message and exit code 2
/// on standard error (no stack trace: the user can fix it); anything else is a bug and keeps its stack trace.
/// </summary>
public static class CommandGuard
{
    public const int UserError = 2;

    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (UserFacingException e)
        {
            ConsoleSetup.Error.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
            return UserError;
        }
    }
}
