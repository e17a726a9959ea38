using System.CommandLine;
using System.Diagnostics;
using Orchestrator.Silos.Emulation;
using Orchestrator.Silos.Hosting;
using Orchestrator.Silos.Terminal;
using Orchestrator.Spec;
using Spectre.Console;

namespace Orchestrator.Silos.Commands;

/// <summary>
/// <c>orchestrator cluster emulate up|down|exec</c>: a cluster of several machines emulated on this one (see
/// <see cref="EmulatedCluster"/>), for trying and testing multi-node jobs. <c>exec</c> runs an orchestrator command inside a
/// node (the emulated subnet is reachable only from the nodes), pointed at that node's gateway.
/// </summary>
public static class ClusterCommand
{
    /// <summary>Where the emulator keeps configs, logs and the shared runs root unless told otherwise.</summary>
    public static string DefaultDirectory => Path.Combine(Path.GetTempPath(), "orchestrator-emulate");

    /// <summary>Builds the <c>cluster</c> command.</summary>
    public static Command Create()
    {
        var emulate = new Command("emulate", "A cluster of several machines emulated on this one with network namespaces (needs root)");
        emulate.Subcommands.Add(UpCommandOf());
        emulate.Subcommands.Add(DownCommandOf());
        emulate.Subcommands.Add(ExecCommandOf());
        var cluster = new Command("cluster", "Cluster tools");
        cluster.Subcommands.Add(emulate);
        return cluster;
    }

    private static Option<string> DirectoryOption() => new("--dir")
    {
        Description = $"Where the emulator keeps configs, logs and the shared runs root (default {DefaultDirectory}; removed by down)",
        DefaultValueFactory = _ => DefaultDirectory,
    };

    private static Command UpCommandOf()
    {
        var nodes = new Option<int>("--nodes") { Description = $"Emulated machines (1..{EmulatedCluster.MaxNodes})", DefaultValueFactory = _ => 2 };
        var bandwidth = new Option<string>("--bandwidth") { Description = "Rate of every node link (e.g. 100mbit, 1gbit, 10gbit)", DefaultValueFactory = _ => "1gbit" };
        var slots = new Option<int>("--slots") { Description = "Worker slots per node", DefaultValueFactory = _ => 2 };
        var runsRoot = new Option<string?>("--runs-root") { Description = "Shared runs root of every node (default: DIR/runs, removed by down)" };
        var workerEnv = new Option<string[]>("--worker-env") { Description = "NAME=VALUE for every rank of every job (repeatable)", DefaultValueFactory = _ => [] };
        var directory = DirectoryOption();
        var command = new Command("up", "Create the namespaces, links, Redis and one silo per node; cleans leftovers of an earlier run first")
            { nodes, bandwidth, slots, runsRoot, workerEnv, directory };
        command.SetAction(parse => CommandGuard.Run(() =>
        {
            var environment = new Dictionary<string, string>();
            foreach (var pair in parse.GetValue(workerEnv)!)
            {
                var equals = pair.IndexOf('=', StringComparison.Ordinal);
                if (equals <= 0) throw new UserFacingException($"--worker-env: expected NAME=VALUE, got '{pair}'");
                environment[pair[..equals]] = pair[(equals + 1)..];
            }
            var options = new EmulatorOptions(parse.GetValue(nodes), parse.GetValue(bandwidth)!, parse.GetValue(slots), Path.GetFullPath(parse.GetValue(directory)!),
                parse.GetValue(runsRoot) is { } root ? Path.GetFullPath(root) : null, environment);
            EmulatedCluster.Up(options, SiloSetup.DotnetHostPath(), SiloSetup.EntryAssemblyPath(), line => AnsiConsole.MarkupLineInterpolated($"{line}"));
            AnsiConsole.MarkupLineInterpolated(
                $"try: orchestrator cluster emulate exec -- submit examples/fashion-mnist.yaml --set workers=2 --set placement.ranks_per_node=1");
            AnsiConsole.MarkupLine("stop with: orchestrator cluster emulate down");
            return 0;
        }));
        return command;
    }

    private static Command DownCommandOf()
    {
        var directory = DirectoryOption();
        var command = new Command("down", "Kill every process of the emulated cluster and remove its namespaces, links and directory") { directory };
        command.SetAction(parse => CommandGuard.Run(() =>
        {
            EmulatedCluster.Down(Path.GetFullPath(parse.GetValue(directory)!), line => AnsiConsole.MarkupLineInterpolated($"{line}"));
            return 0;
        }));
        return command;
    }

    private static Command ExecCommandOf()
    {
        var node = new Option<int>("--node") { Description = "The node to run on (1-based)", DefaultValueFactory = _ => 1 };
        var args = new Argument<string[]>("command") { Description = "An orchestrator command and its arguments (after --)", Arity = ArgumentArity.OneOrMore };
        var command = new Command("exec", "Run an orchestrator command inside an emulated node, pointed at its gateway") { node, args };
        command.SetAction(parse => CommandGuard.Run(() =>
        {
            var index = parse.GetValue(node) - 1;
            if (index is < 0 or >= EmulatedCluster.MaxNodes || !NetworkFabric.Namespaces(EmulatedCluster.Prefix).Contains(EmulatedCluster.NodeNamespace(index)))
                throw new UserFacingException($"--node: no emulated node {index + 1} (start one with: orchestrator cluster emulate up)");
            var (argv, environment) = EmulatedCluster.ClientCommand(index, SiloSetup.DotnetHostPath(), SiloSetup.EntryAssemblyPath(), parse.GetValue(args)!);
            var start = new ProcessStartInfo(argv[0]) { UseShellExecute = false };
            foreach (var arg in argv.Skip(1)) start.ArgumentList.Add(arg);
            foreach (var (name, value) in environment) start.Environment[name] = value;
            using var process = Process.Start(start) ?? throw new UserFacingException("could not start ip netns exec");
            process.WaitForExit();
            return process.ExitCode;
        }));
        return command;
    }
}
