using Orchestrator.Contracts.Models;
using Orchestrator.Trainer.Telemetry;
using Spectre.Console;

namespace Orchestrator.Silos.Terminal;

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

    /// <summary>The end-of-job table of <c>orchestrator run</c>: the job's outcome and restarts, with the run's summary when it wrote one.</summary>
    public static void PrintJob(JobStatus status, RunSummary? summary, string runDirectory)
    {
        var color = status.Phase == JobPhase.Succeeded ? "green" : "red";
        var table = new Table().Border(TableBorder.Rounded).AddColumn("job").AddColumn(Markup.Escape(status.JobId));
        table.AddRow("status", $"[{color}]{status.Phase.ToString().ToLowerInvariant()}[/]");
        table.AddRow("workers", $"{summary?.Workers ?? status.Workers}");
        table.AddRow("restarts", $"{status.Restarts} of {status.MaxRestarts}");
        if (summary is not null)
        {
            table.AddRow("steps / epochs", $"{summary.Steps} / {summary.Epochs}");
            table.AddRow("test accuracy", $"{summary.TestAccuracy:P2} (best {summary.BestTestAccuracy:P2})");
            table.AddRow("throughput", $"{summary.SamplesPerSecond:N0} samples/s");
            table.AddRow("wall time", $"{summary.WallSeconds:F1} s");
        }
        if (status.FailureReason is { } reason)
            table.AddRow(status.Phase == JobPhase.Failed ? "reason" : "last restart", Markup.Escape(reason));
        table.AddRow("run directory", Markup.Escape(runDirectory));
        AnsiConsole.Write(table);
    }
}
