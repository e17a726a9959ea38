using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Orchestrator.Contracts.Grains;
using Orchestrator.Scheduler.Launchers;
using Orchestrator.Silos.Hosting;
using Orchestrator.Spec;

namespace Orchestrator.Silos.Commands;

/// <summary>
/// <c>orchestrator node-exec -- HOST COMMAND...</c> (hidden): the program Hydra's <c>rsh</c> launcher runs for each remote node
/// of a gang (<c>-launcher-exec</c>, through the small script the launching silo writes). Instead of <c>ssh HOST</c>, it asks
/// the silo of the node at HOST (found among the cluster's nodes) to start exactly the given proxy command there, and waits
/// for its end like <c>ssh</c> would, exiting with its code. The job and launch come from the environment the launching silo
/// gave <c>mpiexec</c>. When the node refuses or cannot be reached it says why on standard error (the job's log) and stops
/// <c>mpiexec</c>, which would otherwise wait for a proxy that never connects.
/// </summary>
public static class NodeExecCommand
{
    /// <summary>The command's name.</summary>
    public const string Name = "node-exec";

    private static readonly TimeSpan WaitSlice = TimeSpan.FromSeconds(5);

    /// <summary>Builds the hidden <c>node-exec</c> command.</summary>
    public static Command Create()
    {
        var words = new Argument<string[]>("host-and-command") { Description = "The node's address, then Hydra's proxy command (after --)", Arity = ArgumentArity.OneOrMore };
        var command = new Command(Name, "Start a Hydra proxy on another node through its silo (Hydra's -launcher-exec)") { words };
        command.Hidden = true;
        command.SetAction(parse => Run(parse.GetValue(words)!));
        return command;
    }

    private static int Run(string[] words)
    {
        using var stop = new CancellationTokenSource();
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        try
        {
            return RunAsync(words, stop.Token).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is UserFacingException or InvalidOperationException or ArgumentException or TimeoutException or OrleansException)
        {
            Console.Error.WriteLine($"error: node-exec {(words.Length > 0 ? words[0] : "")}: {e.Message}");
            _ = kill(getppid(), SigTerm); // mpiexec: it would wait for this proxy forever
            return 1;
        }
    }

    private static async Task<int> RunAsync(string[] words, CancellationToken stop)
    {
        if (words.Length < 2) throw new ArgumentException("expected HOST COMMAND... (Hydra's rsh launcher calling convention)");
        var host = words[0];
        string Variable(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new UserFacingException($"{name} is not set: node-exec runs only under a gang the orchestrator launched");
        var job = Variable(JobRunner.JobVariable);
        var launch = int.Parse(Variable(JobRunner.LaunchVariable), NumberStyles.Integer, CultureInfo.InvariantCulture);
        var redis = Environment.GetEnvironmentVariable(JobRunner.RedisVariable);
        var target = new ClusterTarget(Variable(JobRunner.GatewayVariable), string.IsNullOrEmpty(redis) ? null : redis,
            Environment.GetEnvironmentVariable(JobRunner.ClusterVariable) ?? "",
            Security.TlsPaths.ForClient(null, null, null, Environment.GetEnvironmentVariable)); // the launching silo's ORCHESTRATOR_TLS_*
        await using var connection = await ClusterConnection.ConnectAsync(target);
        var snapshot = await connection.CallAsync(c => c.GetGrain<ISchedulerGrain>(ISchedulerGrain.DefaultKey).GetSnapshotAsync());
        var node = snapshot.Nodes.FirstOrDefault(n => n.Node.Address == host || n.Node.Name == host)
            ?? throw new UserFacingException($"no node of the cluster has the address or name {host}");
        if (!node.Alive) throw new UserFacingException($"node {node.Node.Name} ({host}) is down");
        var agent = connection.Client.GetGrain<INodeAgentGrain>(node.Node.Silo);
        var pid = await connection.CallAsync(_ => agent.StartProxyAsync(job, launch, [.. words.Skip(1)]), job);
        while (true)
        {
            if (stop.IsCancellationRequested)
            {
                await connection.CallAsync(_ => agent.KillJobAsync(job), job);
                return 143;
            }
            // A read: ridden out while a gateway dies (the launching node's silo may be the one this client talks through;
            // its gang lives on and is adopted, so this proxy must not end with it).
            var code = await connection.ReadAsync(_ => agent.WaitProxyAsync(pid, WaitSlice), job);
            if (code is int exit) return exit;
        }
    }

    private const int SigTerm = 15;

    [DllImport("libc")]
    private static extern int getppid();

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
