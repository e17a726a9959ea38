using Orchestrator.Trainer.Telemetry;
using Spectre.Console;

namespace Orchestrator.Silos.Console;

/// <summary>The end-of-run table.</summary>
public static class SummaryTable
{
    public static void Print(RunSummary summary, string runDirectory, bool interrupted)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumn("job").AddColumn(Markup.Escape(summary.Name));
        table.AddRow("status", interrupted ? "[yellow]interrupted (checkpoint written; rerun to resume)[/]" : "[green]finished[/]");
        table.AddRow("steps / epochs", $"{summary.Steps} / {summary.Epochs}");
        table.AddRow("test accuracy", $"{summary.TestAccuracy:P2} (best {summary.BestTestAccuracy:P2})");
        table.AddRow("test loss", $"{summary.TestLoss:F4}");
        table.AddRow("throughput", $"{summary.SamplesPerSecond:N0} samples/s");
        table.AddRow("wall time", $"{summary.WallSeconds:F1} s");
        table.AddRow("device / threads", $"{summary.Device} / {summary.Threads}");
        table.AddRow("run directory", Markup.Escape(runDirectory));
        AnsiConsole.Write(table);
    }
}
