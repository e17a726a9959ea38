using System.Diagnostics;
using System.Text;

namespace Orchestrator.Tests.Observability;

/// <summary>A child process left running while a test works; its output is collected; dispose kills its whole tree.</summary>
internal sealed class BackgroundProcess : IDisposable
{
    private readonly Process process;
    private readonly StringBuilder output = new();

    private BackgroundProcess(Process process)
    {
        this.process = process;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>Starts <paramref name="file"/> with <paramref name="args"/> (an argument array, no shell).</summary>
    public static BackgroundProcess Start(string file, IEnumerable<string> args, string missingHint)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment["NO_COLOR"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        try
        {
            var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
            process.StandardInput.Close();
            return new BackgroundProcess(process);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"{file} not found: {missingHint}", e);
        }
    }

    public bool HasExited => process.HasExited;

    public string Output { get { lock (output) return output.ToString(); } }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (output) output.AppendLine(line);
    }

    public void Dispose()
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            process.WaitForExit(10_000);
        }
        catch (InvalidOperationException) { }
        process.Dispose();
    }
}
