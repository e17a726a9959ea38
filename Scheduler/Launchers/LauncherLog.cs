using Orchestrator.Contracts.Models;

namespace Orchestrator.Scheduler.Launchers;

/// <summary>Reads a gang's launcher log (<c>DIR/logs/launcher.log</c>, every rank's lines prefixed <c>[R]</c>) for <c>logs</c>.</summary>
public static class LauncherLog
{
    /// <summary>The last <paramref name="tail"/> lines (all when 0 or less) of every rank, or of rank <paramref name="rank"/> without its prefix.</summary>
    public static JobLog Tail(string path, int? rank, int tail)
    {
        if (!File.Exists(path)) return new JobLog(path, [], false);
        var prefix = rank is int r ? $"[{r}] " : null;
        var lines = new Queue<string>();
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        using (var reader = new StreamReader(stream))
        {
            while (reader.ReadLine() is { } line)
            {
                if (prefix is not null)
                {
                    if (!line.StartsWith(prefix, StringComparison.Ordinal)) continue;
                    line = line[prefix.Length..];
                }
                lines.Enqueue(line);
                if (tail > 0 && lines.Count > tail) lines.Dequeue();
            }
        }
        return new JobLog(path, [.. lines], true);
    }
}
