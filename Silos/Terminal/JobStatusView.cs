using System.Globalization;
using Orchestrator.Contracts.Models;
using Spectre.Console;

namespace Orchestrator.Silos.Terminal;

/// <summary>How <c>status</c> shows jobs: a table of all of them, or one job in detail.</summary>
public static class JobStatusView
{
    /// <summary>One row per job: name, phase, workers, restarts, newest step and throughput.</summary>
    public static void PrintList(IReadOnlyList<JobStatus> jobs, DateTimeOffset now, IReadOnlyList<(string Name, string Why)>? unreadable = null) =>
        PrintList(AnsiConsole.Console, jobs, now, unreadable);

    /// <summary>As <see cref="PrintList(IReadOnlyList{JobStatus}, DateTimeOffset)"/>, on <paramref name="console"/>.</summary>
    /// <param name="unreadable">Listed jobs whose status could not be read, with why: shown as rows of their own.</param>
    public static void PrintList(IAnsiConsole console, IReadOnlyList<JobStatus> jobs, DateTimeOffset now, IReadOnlyList<(string Name, string Why)>? unreadable = null)
    {
        ArgumentNullException.ThrowIfNull(console);
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
        foreach (var (name, why) in unreadable ?? [])
            table.AddRow(Markup.Escape(name), "[yellow]unreadable[/]", "-", "-", "-", "-", "-");
        console.Write(table);
        foreach (var (name, why) in unreadable ?? [])
            console.MarkupLineInterpolated($"[yellow]note:[/] job {name}: {why}");
    }

    /// <summary>
    /// One job: phase, gang, restarts, the newest heartbeat (throughput, step time and its split into compute,
    /// compression and communication), each rank's heartbeat, and the phase history.
    /// </summary>
    public static void Print(JobStatus job, DateTimeOffset now) => Print(AnsiConsole.Console, job, now);

    /// <summary>As <see cref="Print(JobStatus, DateTimeOffset)"/>, on <paramref name="console"/>.</summary>
    public static void Print(IAnsiConsole console, JobStatus job, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(console);
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
            table.AddRow("step time", $"{Ms(h.LastStepSeconds)} ms");
            table.AddRow("step split", Markup.Escape(StepSplit(h) ?? "-"));
            table.AddRow("heartbeat", $"{Age(beat, now)} ago (launch {h.Launch}, rank {h.Rank}, pid {h.ProcessId})");
            table.AddRow("progress", $"step count last went up {Seconds(now - beat.LastProgressAt)} ago" +
                (h.Activity == WorkerActivity.Training ? "" : $" ({h.Activity.ToString().ToLowerInvariant()} for {h.ActivitySeconds:0} s)"));
        }
        if (job.FailureReason is { } reason)
            table.AddRow(job.Phase == JobPhase.Failed ? "reason" : "last restart", Markup.Escape(reason));
        console.Write(table);
        if (!job.WorkerHeartbeats.IsDefaultOrEmpty)
        {
            var ranks = new Table().Border(TableBorder.Rounded)
                .AddColumns("rank", "step", "doing", "heartbeat", "step ms", "compute ms", "compression ms", "communication ms", "pid");
            foreach (var worker in job.WorkerHeartbeats)
            {
                var h = worker.Heartbeat;
                ranks.AddRow($"{h.Rank}", $"{h.Step}", h.Activity.ToString().ToLowerInvariant(), $"{Age(worker, now)} ago", Ms(h.LastStepSeconds),
                    Ms(h.ComputeSeconds), Ms(h.CompressionSeconds), Ms(h.CommunicationSeconds), $"{h.ProcessId}");
            }
            console.Write(ranks);
        }
        foreach (var t in job.History)
        {
            var note = t.Note is null ? "" : $" ({t.Note})";
            console.MarkupLineInterpolated($"[grey]{t.At.ToLocalTime():yyyy-MM-dd HH:mm:ss}[/] {t.To.ToString().ToLowerInvariant()}{note}");
        }
    }

    /// <summary>
    /// The last step's split as <c>compute 12.0 ms (80%) / compression 1.0 ms (7%) / communication 2.0 ms (13%)</c>;
    /// null when the heartbeat carries no split (all parts 0).
    /// </summary>
    public static string? StepSplit(WorkerHeartbeat heartbeat)
    {
        ArgumentNullException.ThrowIfNull(heartbeat);
        if (Parts(heartbeat) is not { } parts) return null;
        return string.Join(" / ", parts.Select(p => $"{p.Name} {Ms(p.Seconds)} ms ({Percent(p.Seconds, parts.Sum(q => q.Seconds))})"));
    }

    /// <summary>The last step's split in percent only (<c>compute 80% / compression 7% / communication 13%</c>); null without a split.</summary>
    public static string? StepSplitPercent(WorkerHeartbeat heartbeat)
    {
        ArgumentNullException.ThrowIfNull(heartbeat);
        if (Parts(heartbeat) is not { } parts) return null;
        return string.Join(" / ", parts.Select(p => $"{p.Name} {Percent(p.Seconds, parts.Sum(q => q.Seconds))}"));
    }

    private static (string Name, double Seconds)[]? Parts(WorkerHeartbeat h)
    {
        (string Name, double Seconds)[] parts =
            [("compute", Math.Max(0, h.ComputeSeconds)), ("compression", Math.Max(0, h.CompressionSeconds)), ("communication", Math.Max(0, h.CommunicationSeconds))];
        return parts.Sum(p => p.Seconds) > 0 ? parts : null;
    }

    private static string Percent(double part, double total) =>
        (part / total).ToString("P0", CultureInfo.InvariantCulture).Replace(" ", "", StringComparison.Ordinal);

    private static string Ms(double seconds) => (seconds * 1000).ToString("F1", CultureInfo.InvariantCulture);

    private static string Phase(JobPhase phase) => phase switch
    {
        JobPhase.Succeeded => "[green]succeeded[/]",
        JobPhase.Failed => "[red]failed[/]",
        JobPhase.Cancelled => "[yellow]cancelled[/]",
        _ => phase.ToString().ToLowerInvariant(),
    };

    private static string Workers(JobStatus job) =>
        job.RequestedWorkers is { } next ? $"{job.Workers} -> {next}" : $"{job.Workers}";

    private static string Age(HeartbeatInfo beat, DateTimeOffset now) => Seconds(now - beat.ReceivedAt);

    private static string Seconds(TimeSpan span) => $"{Math.Max(0, span.TotalSeconds).ToString("0.0", CultureInfo.InvariantCulture)} s";
}
