using System.Diagnostics;
using Orchestrator.Spec;

namespace Orchestrator.Silos.Benchmarks;

/// <summary>What a child process did: exit code, both output streams, and whether it ran past its limit.</summary>
public sealed record ChildResult(int ExitCode, string Stdout, string Stderr, bool TimedOut)
{
    /// <summary>The last stdout line that is a JSON object (how the benchmark children report), or null.</summary>
    public string? LastJsonLine => Stdout.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.StartsWith('{'));
}

/// <summary>
/// Runs a benchmark child (mpirun jobs, the PyTorch peers) from an argument array, never a shell
/// string, with a hard time limit: past it the whole process tree is killed, so no benchmark can hang.
/// </summary>
public static class ChildProcess
{
    /// <param name="missingHint">How to install <paramref name="program"/> when it is not found.</param>
    public static ChildResult Run(string program, IEnumerable<string> arguments, TimeSpan limit, string missingHint)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in arguments) start.ArgumentList.Add(arg);
        start.Environment["NO_COLOR"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
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
            process.WaitForExit(); // drains the redirected streams
            return new ChildResult(timedOut ? -1 : process.ExitCode, stdout.Result, stderr.Result, timedOut);
        }
    }
}
