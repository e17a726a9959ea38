using System.Text.RegularExpressions;
using Orchestrator.Contracts.Models;

namespace Orchestrator.Scheduler.Launchers;

/// <summary>
/// Reads a gang's launcher log (<c>DIR/logs/launcher.log</c>) for <c>logs</c>: every rank's lines are prefixed <c>[R]</c>, or
/// <c>[R@HOST]</c> when the gang spans several nodes.
/// </summary>
public static partial class LauncherLog
{
    /// <summary>Longest error text kept for a job's failure reason.</summary>
    public const int MaxErrorLength = 300;

    /// <summary>
    /// The workers' own error lines of the newest launch in the log at <paramref name="path"/> (after its last
    /// <c># ... launch:</c> line): <c>error: ...</c>, <c>error (rank R): ...</c>, <c>rank R failed: ...</c> and .NET's
    /// <c>Unhandled exception. ...</c>, without rank prefixes, each distinct text once, the last three joined with
    /// " | " and shortened; null when there are none.
    /// </summary>
    public static string? LastErrors(string path)
    {
        if (!File.Exists(path)) return null;
        var errors = new List<string>();
        foreach (var line in Lines(path))
        {
            if (line.StartsWith("# ", StringComparison.Ordinal) && line.Contains(" launch: ", StringComparison.Ordinal)) errors.Clear();
            else if (ErrorText(line) is { } error && !errors.Contains(error)) errors.Add(error);
        }
        if (errors.Count == 0) return null;
        var joined = string.Join(" | ", errors.TakeLast(3));
        return joined.Length <= MaxErrorLength ? joined : joined[..(MaxErrorLength - 3)] + "...";
    }

    private static string? ErrorText(string line)
    {
        var text = RankPrefix().Replace(line, "").Trim();
        if (text.StartsWith("error: ", StringComparison.Ordinal)) return text["error: ".Length..];
        if (ErrorOfRank().Match(text) is { Success: true } ofRank) return text[ofRank.Length..];
        if (RankFailed().Match(text) is { Success: true } failed) return text[failed.Length..];
        if (text.StartsWith("Unhandled exception. ", StringComparison.Ordinal)) return text["Unhandled exception. ".Length..];
        return null;
    }

    [GeneratedRegex(@"^\[\d+(@[^\]\s]*)?\] ")]
    private static partial Regex RankPrefix();

    [GeneratedRegex(@"^error \(rank \d+\): ")]
    private static partial Regex ErrorOfRank();

    [GeneratedRegex(@"^rank \d+ failed: ")]
    private static partial Regex RankFailed();

    /// <summary>The last <paramref name="tail"/> lines (all when 0 or less) of every rank, or of rank <paramref name="rank"/> without its prefix.</summary>
    public static JobLog Tail(string path, int? rank, int tail)
    {
        if (!File.Exists(path)) return new JobLog(path, [], false);
        var plain = rank is int r ? $"[{r}] " : null;
        var onHost = rank is int h ? $"[{h}@" : null;
        var lines = new Queue<string>();
        foreach (var line in Lines(path))
        {
            string text;
            if (plain is null) text = line;
            else if (line.StartsWith(plain, StringComparison.Ordinal)) text = line[plain.Length..];
            else if (line.StartsWith(onHost!, StringComparison.Ordinal) && line.IndexOf("] ", StringComparison.Ordinal) is > 0 and var end) text = line[(end + 2)..];
            else continue;
            lines.Enqueue(text);
            if (tail > 0 && lines.Count > tail) lines.Dequeue();
        }
        return new JobLog(path, [.. lines], true);
    }

    /// <summary>The log's lines, read while the gang may still append to it (or the run directory be removed).</summary>
    private static IEnumerable<string> Lines(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line)
            yield return line;
    }
}
