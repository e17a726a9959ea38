using System.Diagnostics;
using System.Globalization;

namespace Orchestrator.Scheduler.Launchers;

/// <summary>
/// Runs one gang's launcher program (<c>mpirun.mpich ...</c>) on behalf of a silo, in the gang's own session: every line
/// of its stdout and stderr is appended to the job's log, and when it exits its code is written (atomically) to the
/// exit-code file. The silo only starts this process; it holds no pipe the gang writes to, so a silo that dies
/// (SIGKILL) leaves the gang training, and the silo that takes the job over learns the gang's end from the file.
/// </summary>
public static class GangSupervisor
{
    /// <summary>Exit code when the program could not be started (as a shell reports "command not found").</summary>
    public const int NotStarted = 127;

    /// <summary>Runs <paramref name="argv"/> (program first, no shell) to its end and returns its exit code.</summary>
    public static int Run(string logPath, string exitCodePath, IReadOnlyList<string> argv)
    {
        ArgumentNullException.ThrowIfNull(argv);
        if (argv.Count == 0) throw new ArgumentException("no program to run", nameof(argv));
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(logPath))!);
        using var log = new StreamWriter(new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        var gate = new Lock();
        void Write(string? line)
        {
            if (line is null) return;
            lock (gate) log.WriteLine(line);
        }

        var start = new ProcessStartInfo(argv[0])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (var arg in argv.Skip(1)) start.ArgumentList.Add(arg);
        int code;
        using (var process = new Process { StartInfo = start })
        {
            process.OutputDataReceived += (_, e) => Write(e.Data);
            process.ErrorDataReceived += (_, e) => Write(e.Data);
            try
            {
                process.Start();
                process.StandardInput.Close();
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                process.WaitForExit(); // and the redirected streams' end
                code = process.ExitCode;
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                Write($"# could not start {argv[0]}: {e.Message} (is mpich installed? apt-get install -y mpich)");
                code = NotStarted;
            }
        }
        Write($"# {DateTimeOffset.UtcNow:O} exit code {code}");
        WriteExitCode(exitCodePath, code);
        return code;
    }

    /// <summary>The exit code recorded in <paramref name="exitCodePath"/>, or null while the gang runs (or when the file is unreadable).</summary>
    public static int? ReadExitCode(string exitCodePath)
    {
        try
        {
            return File.Exists(exitCodePath) && int.TryParse(File.ReadAllText(exitCodePath).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var code)
                ? code
                : null;
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    private static void WriteExitCode(string path, int code)
    {
        var temp = path + ".tmp";
        File.WriteAllText(temp, code.ToString(CultureInfo.InvariantCulture));
        File.Move(temp, path, overwrite: true);
    }
}
