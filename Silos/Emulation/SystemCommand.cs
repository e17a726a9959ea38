using System.Diagnostics;
using Orchestrator.Spec;

namespace Orchestrator.Silos.Emulation;

/// <summary>Runs a system tool (<c>ip</c>, <c>tc</c>) from an argument array, bounded in time; a failure is a message naming the command.</summary>
public static class SystemCommand
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    /// <summary>Runs the command and returns its standard output.</summary>
    /// <exception cref="UserFacingException">It cannot start, fails, or runs past its limit.</exception>
    public static string Run(params string[] command) => Try(command, out var output, out var error) ? output
        : throw new UserFacingException($"{string.Join(' ', command)} failed: {error}");

    /// <summary>Runs the command; false (with its error text) when it fails.</summary>
    public static bool Try(string[] command, out string output, out string error)
    {
        ArgumentNullException.ThrowIfNull(command);
        var start = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in command.Skip(1)) start.ArgumentList.Add(arg);
        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            output = "";
            error = $"cannot start {command[0]}: {e.Message} (apt-get install -y iproute2)";
            return false;
        }
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Limit))
        {
            process.Kill(entireProcessTree: true);
            output = "";
            error = $"no answer within {Limit.TotalSeconds:0} s";
            return false;
        }
        output = stdout.GetAwaiter().GetResult();
        error = $"exit {process.ExitCode}: {stderr.GetAwaiter().GetResult().Trim()}";
        return process.ExitCode == 0;
    }
}
