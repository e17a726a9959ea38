using System.Diagnostics;

namespace Orchestrator.Scheduler.Launchers;

/// <summary>Settings of <see cref="LocalMpiLauncher"/>.</summary>
/// <param name="EntryAssembly">The <c>orchestrator.dll</c> the workers run.</param>
/// <param name="DotnetHost">The <c>dotnet</c> host that runs it.</param>
/// <param name="Mpirun">The MPI launcher program (Debian's MPICH: <c>mpirun.mpich</c>).</param>
/// <param name="UseSetsid">Start through <c>setsid</c> so the gang gets its own session and process group
/// (killed as one; a terminal's Ctrl+C reaches the CLI only, which cancels the job itself).</param>
/// <param name="Supervisor">The gang supervisor's command (program first, e.g. <c>dotnet orchestrator.dll gang-exec</c>; see
/// <see cref="GangSupervisor"/>), or null to run <c>mpirun</c> directly. Supervised, the gang's output goes to the log file
/// from a process of its own session and its exit code to <see cref="LaunchRequest.ExitCodePath"/>, so the gang outlives
/// the silo that started it (the silo holds no pipe the gang writes to) and another silo can learn its end.</param>
/// <param name="LoopbackOnly">Keep every socket of the job on loopback (<see cref="LoopbackBind"/>): all ranks run on this
/// machine.</param>
public sealed record LocalMpiOptions(string EntryAssembly, string DotnetHost, string Mpirun = "mpirun.mpich", bool UseSetsid = true,
    IReadOnlyList<string>? Supervisor = null, bool LoopbackOnly = true)
{
    /// <summary>The path of <c>setsid</c> (util-linux).</summary>
    public const string SetsidPath = "/usr/bin/setsid";

    /// <summary>The worker command line, program first, as an argument array (no shell).</summary>
    public IReadOnlyList<string> CommandLine(LaunchRequest request)
    {
        var args = new List<string>();
        if (UseSetsid && File.Exists(SetsidPath)) args.Add(SetsidPath);
        if (IsSupervised(request))
            args.AddRange([.. Supervisor!, "--log", request.LogPath, "--exit-file", request.ExitCodePath!, "--"]);
        args.Add(Mpirun);
        var np = request.Workers.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (request.Hosts is { } hosts)
        {
            // Across nodes: Hydra's proxies are started by the nodes' silos (node-exec), not ssh; they reach mpiexec at this
            // node's address; each output line names rank and host.
            args.AddRange(["-launcher", "rsh", "-launcher-exec", NodeExecScriptPath(request), "-localhost", hosts.LocalAddress,
                "-hosts", hosts.HostList, "-prepend-pattern", "[%r@%h] ", "-np", np]);
            if (hosts.Interface is { } iface) args.AddRange(["-iface", iface, "-genv", "UCX_NET_DEVICES", iface]);
        }
        else
        {
            args.AddRange(["-prepend-rank", "-np", np]);
            if (LoopbackOnly) args.AddRange(LoopbackBind.MpirunArguments);
        }
        foreach (var (name, value) in request.Environment ?? new Dictionary<string, string>())
            args.AddRange(["-genv", name, value]); // MPICH hands these to every rank
        args.AddRange([DotnetHost, EntryAssembly, "train", request.SpecPath, "--out", request.OutputDirectory]);
        args.AddRange(request.ExtraArguments);
        return args;
    }

    /// <summary>The script Hydra's <c>rsh</c> launcher runs for remote nodes: <c>dotnet orchestrator.dll node-exec -- HOST COMMAND...</c>.</summary>
    public static string NodeExecScriptPath(LaunchRequest request) => Path.Combine(request.OutputDirectory, "logs", "node-exec");

    /// <summary>The text of <see cref="NodeExecScriptPath"/>: fixed, with this installation's paths only (no user input).</summary>
    public string NodeExecScript() =>
        "#!/bin/sh\n# Hydra's rsh launcher: HOST COMMAND... -> the silo of the node at HOST starts COMMAND there (no ssh).\n" +
        $"exec {ShellQuote(DotnetHost)} {ShellQuote(EntryAssembly)} node-exec -- \"$@\"\n";

    private static string ShellQuote(string text) => "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>Whether <paramref name="request"/> runs under the gang supervisor (configured, and the request names an exit-code file).</summary>
    public bool IsSupervised(LaunchRequest request) => Supervisor is { Count: > 0 } && request.ExitCodePath is not null;
}

/// <summary>
/// The <c>local-mpi</c> launcher: <c>[setsid] mpirun.mpich -prepend-rank -np N dotnet orchestrator.dll train SPEC --out DIR</c>
/// on this machine, started with <see cref="ProcessStartInfo.ArgumentList"/> (no shell), every rank's
/// stdout and stderr appended to <c>DIR/logs/launcher.log</c> (lines prefixed <c>[rank]</c>).
/// </summary>
public sealed class LocalMpiLauncher(LocalMpiOptions options) : IJobLauncher
{
    /// <summary>The launcher's settings.</summary>
    public LocalMpiOptions Options { get; } = options;

    /// <inheritdoc />
    public ILaunchedJob Launch(LaunchRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Workers < 1)
            throw new ArgumentOutOfRangeException(nameof(request), request.Workers, "at least 1 worker is needed");
        var argv = Options.CommandLine(request);
        var start = new ProcessStartInfo(argv[0])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = request.OutputDirectory,
        };
        foreach (var arg in argv.Skip(1)) start.ArgumentList.Add(arg);
        start.Environment["NO_COLOR"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        // Every rank of a local job is on this machine: MPICH's UCX transport would otherwise open TCP listeners on
        // every interface. A site that sets its own devices keeps them.
        if (request.Hosts is null)
        {
            if (Environment.GetEnvironmentVariable("UCX_NET_DEVICES") is null) start.Environment["UCX_NET_DEVICES"] = "lo";
            if (Options.LoopbackOnly) LoopbackBind.Apply(start); // and Hydra's control socket, which has no setting
        }
        foreach (var (name, value) in request.Environment ?? new Dictionary<string, string>())
            start.Environment[name] = value;

        Directory.CreateDirectory(Path.GetDirectoryName(request.LogPath)!);
        if (request.Hosts is not null)
        {
            var script = LocalMpiOptions.NodeExecScriptPath(request);
            File.WriteAllText(script, Options.NodeExecScript());
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead |
                    UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
        var supervised = Options.IsSupervised(request);
        if (supervised) File.Delete(request.ExitCodePath!); // a stale code of an earlier try of this launch number
        var log = new StreamWriter(new FileStream(request.LogPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        log.WriteLine($"# {DateTimeOffset.UtcNow:O} launch: {string.Join(' ', argv)}");
        if (request.Hosts is { } placed)
            log.WriteLine($"# placement: {placed.Describe()}; between nodes MPI over TCP{(placed.Interface is null ? "" : $" on {placed.Interface}")}, " +
                "within a node shared memory; Hydra's proxies started by the nodes' silos (node-exec, no ssh)");
        if (supervised)
        {
            // The supervisor appends to the log from now on; this writer's cached offset must not write over it.
            log.Dispose();
            log = new StreamWriter(Stream.Null);
        }
        var process = new Process { StartInfo = start };
        try
        {
            if (!process.Start())
                throw new LaunchException($"could not start {argv[0]}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            log.WriteLine($"# launch failed: {e.Message}");
            log.Dispose();
            process.Dispose();
            throw new LaunchException($"could not start {string.Join(' ', argv.Take(2))}: {e.Message} (is mpich installed? apt-get install -y mpich)", e);
        }
        return new LoggedProcessGroup(process, log, Options.UseSetsid && argv[0] == LocalMpiOptions.SetsidPath);
    }
}
