using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Orchestrator.Tests.Cli;

namespace Orchestrator.Tests.ControlPlane;

/// <summary>
/// A real <c>orchestrator up</c> process on loopback ports a test chose, with its config in the test's directory. Dispose
/// kills it and everything that mentions that directory (its gangs run in sessions of their own), so nothing outlives a test.
/// </summary>
internal sealed partial class UpSilo : IDisposable
{
    private readonly Process process;
    private readonly StringBuilder output = new();
    private readonly string directory;

    private UpSilo(Process process, string directory)
    {
        this.process = process;
        this.directory = directory;
    }

    /// <summary>The gateway the silo listens on (<c>127.0.0.1:PORT</c>), for <c>--silo</c>.</summary>
    public string Gateway { get; private set; } = "";

    /// <summary>The silo process id.</summary>
    public int ProcessId => process.Id;

    /// <summary>Everything the silo printed so far.</summary>
    public string Output { get { lock (output) return output.ToString(); } }

    public bool HasExited => process.HasExited;

    /// <summary>Starts <c>up --config FILE</c> in <paramref name="directory"/> and waits until it prints its gateway.
    /// <paramref name="environment"/> reaches the silo and, through mpirun, its workers (test hooks).</summary>
    public static UpSilo Start(string directory, string configYaml, string name = "silo.yaml", IReadOnlyDictionary<string, string>? environment = null)
    {
        var config = Path.Combine(directory, name);
        File.WriteAllText(config, configYaml);
        var start = new ProcessStartInfo(CliRunner.DotnetHost())
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { CliRunner.EntryAssembly, "up", "--config", config }) start.ArgumentList.Add(arg);
        start.Environment["NO_COLOR"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) start.Environment[key] = value;
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the silo");
        process.StandardInput.Close();
        var silo = new UpSilo(process, directory);
        process.OutputDataReceived += (_, e) => silo.Append(e.Data);
        process.ErrorDataReceived += (_, e) => silo.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (GatewayLine().Match(silo.Output) is { Success: true } match)
            {
                silo.Gateway = match.Groups[1].Value;
                return silo;
            }
            if (process.HasExited)
            {
                process.WaitForExit();
                Assert.Fail($"orchestrator up exited with {process.ExitCode} at start:\n{silo.Output}");
            }
            Thread.Sleep(100);
        }
        var text = silo.Output;
        silo.Dispose();
        throw new TimeoutException($"orchestrator up printed no gateway within 60 s:\n{text}");
    }

    /// <summary>Whether <paramref name="text"/> appears in the output within <paramref name="limit"/> (the lines after the
    /// gateway line, which <see cref="Start"/> waits for, may still be on their way).</summary>
    public bool WaitForOutput(string text, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline || process.HasExited) return Output.Contains(text, StringComparison.Ordinal);
            Thread.Sleep(50);
        }
        return true;
    }

    /// <summary>SIGKILL: the silo dies without any goodbye (its gangs keep running).</summary>
    public void Kill()
    {
        try { process.Kill(entireProcessTree: false); } catch (InvalidOperationException) { }
        process.WaitForExit(10_000);
    }

    /// <summary>SIGTERM, as a service manager stops it; returns whether it exited within <paramref name="limit"/>.</summary>
    public bool Terminate(TimeSpan limit)
    {
        _ = kill(process.Id, 15);
        if (!process.WaitForExit(limit)) return false;
        // WaitForExit with a timeout does not wait for the redirected output to drain; without a timeout it does,
        // so the silo's last lines ("silo stopped") are in Output before anyone reads it.
        process.WaitForExit();
        return true;
    }

    public int ExitCode => process.ExitCode;

    public void Dispose()
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            process.WaitForExit(10_000);
        }
        catch (InvalidOperationException) { }
        ProcessTree.KillMentioning(directory);
        process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (output) output.AppendLine(line);
    }

    [GeneratedRegex(@"gateway (\d+\.\d+\.\d+\.\d+:\d+)")]
    private static partial Regex GatewayLine();

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
