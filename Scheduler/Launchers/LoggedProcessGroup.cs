using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Orchestrator.Scheduler.Launchers;

/// <summary>
/// A started process that leads its own process group (started through <c>setsid</c>) or at least its own tree: every line of
/// its stdout and stderr is appended to a log (with an optional prefix), and a kill takes the group and the tree (no orphans).
/// </summary>
public sealed class LoggedProcessGroup : ILaunchedJob
{
    private const int SigKill = 9;
    private readonly Process process;
    private readonly StreamWriter log;
    private readonly bool ownGroup;
    private readonly Lock gate = new();
    private readonly string? linePrefix;

    /// <param name="process">The started process, stdin/stdout/stderr redirected.</param>
    /// <param name="log">Where its output lines go (disposed when it exits).</param>
    /// <param name="ownGroup">It leads its own process group (killed as a group).</param>
    /// <param name="linePrefix">Put before each output line (e.g. the node's name); null = none.</param>
    public LoggedProcessGroup(Process process, StreamWriter log, bool ownGroup, string? linePrefix = null)
    {
        this.process = process;
        this.log = log;
        this.ownGroup = ownGroup;
        this.linePrefix = linePrefix;
        ProcessId = process.Id;
        process.StandardInput.Close();
        process.OutputDataReceived += (_, e) => Write(e.Data);
        process.ErrorDataReceived += (_, e) => Write(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        Exited = WaitAsync();
    }

    /// <inheritdoc />
    public int ProcessId { get; }

    /// <inheritdoc />
    public Task<int> Exited { get; }

    /// <inheritdoc />
    public async Task<int> KillAsync()
    {
        if (!Exited.IsCompleted)
        {
            // The group first (ranks whose parent already died), then the tree as the process sees it.
            if (ownGroup) _ = kill(-ProcessId, SigKill);
            try { process.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { } // already exited
            catch (System.ComponentModel.Win32Exception) { }
        }
        return await Exited.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!Exited.IsCompleted)
            KillAsync().Wait(TimeSpan.FromSeconds(10));
        process.Dispose();
    }

    private async Task<int> WaitAsync()
    {
        await process.WaitForExitAsync().ConfigureAwait(false); // also waits for the redirected streams' end
        var code = process.ExitCode;
        lock (gate)
        {
            log.WriteLine($"# {DateTimeOffset.UtcNow:O} exit code {code}");
            log.Dispose();
        }
        return code;
    }

    private void Write(string? line)
    {
        if (line is null) return;
        lock (gate)
        {
            try { log.WriteLine(linePrefix is null ? line : linePrefix + line); }
            catch (ObjectDisposedException) { }
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
