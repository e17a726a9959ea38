using System.CommandLine;
using Orchestrator.Scheduler.Launchers;
using Orchestrator.Silos.Hosting;

namespace Orchestrator.Silos.Commands;

/// <summary>
/// <c>orchestrator gang-exec --log FILE --exit-file FILE -- PROGRAM ARGS...</c> (hidden): the gang supervisor a silo of
/// <c>up</c> starts each gang under (see <see cref="GangSupervisor"/>). Exits with the program's code.
/// </summary>
public static class GangExecCommand
{
    /// <summary>Builds the hidden <c>gang-exec</c> command.</summary>
    public static Command Create()
    {
        var log = new Option<string>("--log") { Description = "Log file the program's output is appended to", Required = true };
        var exitFile = new Option<string>("--exit-file") { Description = "File that receives the exit code", Required = true };
        var program = new Argument<string[]>("program") { Description = "The program and its arguments (after --)", Arity = ArgumentArity.OneOrMore };
        var command = new Command(SiloSetup.GangExecCommand, "Run a gang's launcher, its output to a log and its exit code to a file") { log, exitFile, program };
        command.Hidden = true;
        command.SetAction(parse => GangSupervisor.Run(parse.GetValue(log)!, parse.GetValue(exitFile)!, parse.GetValue(program)!));
        return command;
    }
}
