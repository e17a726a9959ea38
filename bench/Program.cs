using System.CommandLine;
using Orchestrator.Bench;
using Orchestrator.Bench.Commands;
using Orchestrator.Silos.Terminal;
using Orchestrator.Trainer.Devices;

// Before any tensor exists: large blocks stay in the heap from the first step (HeapTuning says why).
HeapTuning.Apply();
ConsoleSetup.Configure();

var root = new RootCommand("orchestrator-bench: benchmarks and MPI checks of the orchestrator (run as ./orchestrator bench ...)");
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(CollectivesCheckCommand.Create());
if (args.Length > 0 && !HarnessVerbs.Handles(args[0]) && !args[0].StartsWith('-'))
{
    Console.Error.WriteLine($"error: orchestrator-bench runs {string.Join(" and ", HarnessVerbs.All)}; '{args[0]}' belongs to orchestrator");
    return 2;
}
return CommandLineInvoker.Invoke(root.Parse(args));
