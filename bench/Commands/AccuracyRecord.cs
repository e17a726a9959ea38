using System.Globalization;
using System.Text;
using Spectre.Console;

namespace Orchestrator.Bench.Commands;

/// <summary>How the accuracy benchmarks (<c>bench large-batch</c>, <c>compression</c>, <c>low-precision</c>) show their
/// Markdown table and, with <c>--record FILE</c>, write it with the command that reproduces it.</summary>
internal static class AccuracyRecord
{
    /// <summary>Accuracies per seed as the tables print them: <c>85.54 % / 86.36 %</c>.</summary>
    public static string PerSeed(IEnumerable<double> accuracies) =>
        string.Join(" / ", accuracies.Select(a => a.ToString("P2", CultureInfo.InvariantCulture)));

    /// <summary>Prints <paramref name="table"/>; with <paramref name="record"/>, also writes it under a title, the command
    /// (<c>./orchestrator bench COMMAND</c>) and a setup paragraph.</summary>
    public static void Show(string table, string? record, string title, string command, string setup)
    {
        AnsiConsole.WriteLine();
        AnsiConsole.WriteLine(table);
        if (record is null) return;
        File.WriteAllText(record, new StringBuilder()
            .AppendLine($"# {title}").AppendLine()
            .AppendLine($"Command: `./orchestrator bench {command}`").AppendLine()
            .AppendLine($"Setup: {setup}").AppendLine()
            .AppendLine(table).ToString());
        AnsiConsole.MarkupLineInterpolated($"recorded in {record}");
    }
}
