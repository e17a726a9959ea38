using System.CommandLine;
using System.CommandLine.Invocation;

namespace Orchestrator.Silos.Terminal;

/// <summary>
/// Runs a parsed command line. A syntax error (missing argument, unknown option or command, missing or out-of-range
/// option value) is a mistake in the input like any other, so it exits with <see cref="CommandGuard.UserError"/> (2)
/// rather than System.CommandLine's 1, which the README reserves for bugs and failed jobs. The report stays
/// System.CommandLine's own (its message, typo suggestions and the command's help), each message marked
/// <c>error:</c> as <see cref="CommandGuard"/> marks the others.
/// </summary>
public static class CommandLineInvoker
{
    public static int Invoke(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        if (parse.Action is not ParseErrorAction)
            return parse.Invoke();
        parse.Invoke(new InvocationConfiguration { Error = new LinePrefixWriter(Console.Error, "error: ") });
        return CommandGuard.UserError;
    }
}
