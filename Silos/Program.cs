using System.CommandLine;
using Orchestrator.Silos.Commands;
using Orchestrator.Silos.Terminal;
using Orchestrator.Trainer.Devices;

// Before any tensor exists: large blocks stay in the heap from the first step (HeapTuning says why).
HeapTuning.Apply();
ConsoleSetup.Configure();

var root = new RootCommand("orchestrator: distributed large-batch training on TorchSharp, MPI and Orleans");
root.Subcommands.Add(TrainCommand.Create());
root.Subcommands.Add(RunCommand.Create());
root.Subcommands.Add(UpCommand.Create());
root.Subcommands.Add(SubmitCommand.Create());
root.Subcommands.Add(StatusCommand.Create());
root.Subcommands.Add(ScaleCommand.Create());
root.Subcommands.Add(CancelCommand.Create());
root.Subcommands.Add(LogsCommand.Create());
root.Subcommands.Add(ExportCommand.Create());
root.Subcommands.Add(QuantizeCommand.Create());
root.Subcommands.Add(GangExecCommand.Create());
root.Subcommands.Add(NodeExecCommand.Create());
root.Subcommands.Add(ClusterCommand.Create());
return CommandLineInvoker.Invoke(root.Parse(args));
