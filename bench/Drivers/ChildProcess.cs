using System.Diagnostics;
using Orchestrator.Spec;

namespace Orchestrator.Bench.Drivers;

/// <summary>What a child process did: exit code, both output streams, and whether it ran past its limit.</summary>
public sealed record ChildResult(int ExitCode, string Stdout, string Stderr, bool TimedOut)
{
    /// <summary>The last stdout line that is a JSON object (how the benchmark children report), or null.</summary>
    public string? LastJsonLine => Stdout.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.StartsWith('{'));
}

/// <summary>
/// Runs a child process (the benchmarks' mpirun jobs and PyTorch peers; the tests' CLI and MPI runs) from an argument
/// array, never a shell string, with a hard time limit: past it the whole process tree is killed, so nothing it starts
/// can hang a benchmark or CI. The one place the harness and the tests start a process with a timeout.
/// </summary>
public static class ChildProcess
{
    private static readonly TimeSpan OutputGrace = TimeSpan.FromSeconds(30);

    /// <param name="program">The executable (looked up on PATH).</param>
    /// <param name="arguments">Its arguments, one element each.</param>
    /// <param name="limit">Past this the process tree is killed and <see cref="ChildResult.TimedOut"/> is set.</param>
    /// <param name="missingHint">How to install <paramref name="program"/> when it is not found.</param>
    /// <param name="workingDirectory">Its working directory; null = this process's.</param>
    /// <param name="environment">Variables set (or, with a null value, removed) for the child only; <c>NO_COLOR</c> is always set.</param>
    /// <exception cref="UserFacingException"><paramref name="program"/> cannot be started.</exception>
    public static ChildResult Run(string program, IEnumerable<string> arguments, TimeSpan limit, string missingHint,
        string? workingDirectory = null, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (workingDirectory is not null) start.WorkingDirectory = workingDirectory;
        foreach (var arg in arguments) start.ArgumentList.Add(arg);
        start.Environment["NO_COLOR"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        }
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new UserFacingException($"could not start {program}");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new UserFacingException($"{program} not found: {missingHint}");
        }
        using (process)
        {
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            bool timedOut = !process.WaitForExit(limit);
            if (timedOut)
            {
                try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            }
            process.WaitForExit();
            // A grandchild that outlives the child (a stray rank, a helper process) keeps the pipes open: bound the wait
            // for their end so it cannot hang the caller, and say so.
            bool drained = Task.WaitAll([stdout, stderr], OutputGrace);
            string Text(Task<string> stream) => stream.IsCompletedSuccessfully ? stream.Result : "";
            string err = drained ? stderr.Result : Text(stderr) + $"\n({program} exited but something it started kept its output open for {OutputGrace.TotalSeconds:F0} s; output cut)";
            return new ChildResult(timedOut ? -1 : process.ExitCode, Text(stdout), err, timedOut);
        }
    }
}
