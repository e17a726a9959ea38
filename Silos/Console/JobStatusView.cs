using Orchestrator.Contracts.Models;
using Spectre.Console;

namespace Orchestrator.Silos.Console;

/// <summary>How <c>status</c> shows jobs: a table of all of them, or one job in detail.</summary>
public static class JobStatusView
{
    /// <summary>One row per job: name, phase, workers, restarts, newest step and throughput.</summary>
    public static void PrintList(IReadOnlyList<JobStatus> jobs, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumns("job", "phase", "workers", "restarts", "step", "samples/s", "heartbeat");
        foreach (var job in jobs)
        {
            var beat = job.LastHeartbeat;
            table.AddRow(
                Markup.Escape(job.JobId),
                Phase(job.Phase),
                Workers(job),
                $"{job.Restarts}/{job.MaxRestarts}",
                beat is null ? "-" : $"{beat.Heartbeat.Step}",
                beat is null ? "-" : $"{beat.Heartbeat.SamplesPerSecond:N0}",
                beat is null ? "-" : Age(beat, now));
        }
        AnsiConsole.Write(table);
    }

    /// <summary>One job: phase, gang, restarts, the newest heartbeat and the phase history.</summary>
    public static void Print(JobStatus job, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(job);
        var table = new Table().Border(TableBorder.Rounded).AddColumn("job").AddColumn(Markup.Escape(job.JobId));
        table.AddRow("phase", Phase(job.Phase));
        table.AddRow("workers", Workers(job));
        table.AddRow("restarts", $"{job.Restarts} of {job.MaxRestarts}");
        if (job.LastHeartbeat is { } beat)
        {
            var h = beat.Heartbeat;
            table.AddRow("step", $"{h.Step}");
            table.AddRow("throughput", $"{h.SamplesPerSecond:N0} samples/s");
            table.AddRow("loss", double.IsNaN(h.Loss) ? "-" : $"{h.Loss:F4}");
            table.AddRow("step time", $"{h.LastStepSeconds * 1000:F1} ms");
            table.AddRow("heartbeat", $"{Age(beat, now)} ago (launch {h.Launch}, pid {h.ProcessId})");
        }
        if (job.FailureReason is { } reason)
            table.AddRow(job.Phase == JobPhase.Failed ? "reason" : "last restart", Markup.Escape(reason));
        AnsiConsole.Write(table);
        foreach (var t in job.History)
        {
            var note = t.Note is null ? "" : $" ({t.Note})";
            AnsiConsole.MarkupLineInterpolated($"[grey]{t.At.ToLocalTime():yyyy-MM-dd HH:mm:ss}[/] {t.To.ToString().ToLowerInvariant()}{note}");
        }
    }

    private static string Phase(JobPhase phase) => phase switch
    {
        JobPhase.Succeeded => "[green]succeeded[/]",
        JobPhase.Failed => "[red]failed[/]",
        JobPhase.Cancelled => "[yellow]cancelled[/]",
        _ => phase.ToString().ToLowerInvariant(),
    };

    private static string Workers(JobStatus job) =>
        job.RequestedWorkers is { } next ? $"{job.Workers} -> {next}" : $"{job.Workers}";

    private static string Age(HeartbeatInfo beat, DateTimeOffset now) =>
        $"{Math.Max(0, (now - beat.ReceivedAt).TotalSeconds):0.0} s";
}
