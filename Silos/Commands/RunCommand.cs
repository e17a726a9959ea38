using System.CommandLine;
using System.Text;
using System.Text.Json;
using Orchestrator.Contracts.Grains;
using Orchestrator.Contracts.Models;
using Orchestrator.Spec;
using Orchestrator.Scheduler.Launchers;
using Orchestrator.Scheduler.Lifecycle;
using Orchestrator.Silos.Terminal;
using Orchestrator.Silos.Hosting;
using Orchestrator.Silos.Telemetry;
using Orchestrator.Trainer.Telemetry;
using Spectre.Console;

namespace Orchestrator.Silos.Commands;

/// <summary>
/// <c>orchestrator run SPEC [--workers N] [--set k=v]... [--out DIR] [--slots S] [--silo-metrics-port P]</c>: the embedded default. Starts a
/// silo in this process, submits the job (the spec is validated first: a bad spec exits 2 and starts
/// nothing), follows it until it ends (phase changes and a progress line from <c>DIR/metrics.jsonl</c>), then
/// prints the summary. Exit 0 Succeeded, 1 Failed or cancelled elsewhere, 130 on Ctrl+C (the job is cancelled first).
/// </summary>
public static class RunCommand
{
    /// <summary>Exit code of a job that ended Failed (or was cancelled by someone else).</summary>
    public const int JobFailed = 1;

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);

    /// <summary>Builds the <c>run</c> command.</summary>
    public static Command Create()
    {
        var spec = new Argument<FileInfo>("spec") { Description = "Job spec (YAML), e.g. examples/fashion-mnist.yaml" };
        var workers = new Option<int?>("--workers") { Description = "Worker processes (overrides the spec's workers)" }.Between(1, SpecVocabulary.MaxWorkers);
        var set = SpecOptions.Set();
        var output = new Option<string?>("--out") { Description = "Run directory (default: runs/<name>); a rerun resumes from its checkpoints" };
        var slots = new Option<int?>("--slots") { Description = "Worker slots of the embedded silo (default: the CPU count)" }.AtLeast(1);
        var siloMetricsPort = new Option<int>("--silo-metrics-port")
        {
            Description = "Serve the silo's Prometheus metrics on 127.0.0.1:P (the next free port when taken; 0 = off)",
            DefaultValueFactory = _ => SiloMetricsOptions.DefaultPort,
        }.Between(0, SpecVocabulary.MaxPort, $"0 (off) or a port 1..{SpecVocabulary.MaxPort}");
        // Test hook: extra `train` arguments (e.g. "--die-at 6:1") for the FIRST launch only, so a restart runs clean.
        var workerArgs = new Option<string?>("--worker-args") { Description = "Test hook: extra train arguments for the first launch only", Hidden = true };
        var command = new Command("run", "Run a job under an in-process silo: submit, follow with live progress, print the summary") { spec, workers, set, output, slots, siloMetricsPort, workerArgs };
        command.SetAction(parse => CommandGuard.Run(() => Execute(
            parse.GetValue(spec)!, parse.GetValue(workers), parse.GetValue(set) ?? [], parse.GetValue(output), parse.GetValue(slots),
            parse.GetValue(siloMetricsPort), (parse.GetValue(workerArgs) ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries))));
        return command;
    }

    private static int Execute(FileInfo specFile, int? workers, string[] overrides, string? output, int? slots, int siloMetricsPort, string[] workerArgs)
    {
        var all = overrides.ToList();
        if (workers is { } n) all.Add($"workers={n}");
        var job = JobSpecLoader.LoadFile(specFile.FullName, all); // SpecException (exit 2) before anything starts
        var capacity = slots ?? Environment.ProcessorCount;
        GangCapacity.EnsureFits(job, capacity, "the", " (or --slots)");
        var runDirectory = Path.GetFullPath(output ?? RunLayout.DefaultFor(job.Name));
        return RunAsync(job, runDirectory, capacity, siloMetricsPort, workerArgs).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(JobSpec job, string runDirectory, int capacity, int siloMetricsPort, string[] workerArgs)
    {
        using var interrupt = CtrlC.Listen();
        var metrics = new SiloMetricsOptions
        {
            Port = siloMetricsPort,
            Log = line => Console.WriteLine(line),
            Warn = line => Console.Error.WriteLine(line),
        };
        await using var silo = await EmbeddedSilo.StartAsync(new EmbeddedSiloOptions { WorkerSlots = capacity, Metrics = metrics });
        var grain = silo.Client.GetGrain<IJobGrain>(job.Name);
        // The spec's fault section is the restart policy and the stall timeout.
        var submission = JobSubmission.ForSpec(job, JobSpecYaml.ToYaml(job)) with { OutputDirectory = runDirectory, FirstLaunchArguments = workerArgs };
        AnsiConsole.MarkupLineInterpolated($"job [bold]{job.Name}[/]: {job.Workers} workers, run directory {runDirectory}");
        await grain.SubmitAsync(submission);
        var status = await FollowAsync(grain, runDirectory, interrupt.Token);
        if (!JobTransitions.IsTerminal(status.Phase))
        {
            status = await grain.CancelAsync();
            AnsiConsole.MarkupLine("[yellow]interrupted: job cancelled (workers stopped); rerun to resume from the newest checkpoint[/]");
            return CtrlC.ExitCode;
        }
        SummaryTable.PrintJob(status, ReadSummary(runDirectory), runDirectory);
        if (status.Phase == JobPhase.Succeeded) return 0;
        ConsoleSetup.Error.MarkupLineInterpolated($"[red]job {status.Phase.ToString().ToLowerInvariant()}:[/] {status.FailureReason ?? "cancelled"}");
        PrintLogTail(RunLayout.LauncherLog(runDirectory));
        return JobFailed;
    }

    private static async Task<JobStatus> FollowAsync(IJobGrain grain, string runDirectory, CancellationToken interrupt)
    {
        var follower = new Follower(grain, runDirectory);
        if (!AnsiConsole.Profile.Capabilities.Interactive)
            return await follower.RunAsync(null, interrupt);
        JobStatus last = null!;
        await AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new SpinnerColumn(), new TaskDescriptionColumn { Alignment = Justify.Left }, new ElapsedTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask("pending", maxValue: 1);
                task.IsIndeterminate = true;
                last = await follower.RunAsync(task, interrupt);
                task.Value = task.MaxValue;
                task.StopTask();
            });
        return last;
    }

    /// <summary>Polls the job grain and tails <c>metrics.jsonl</c>.</summary>
    private sealed class Follower(IJobGrain grain, string runDirectory)
    {
        private readonly string metricsPath = RunLayout.Metrics(runDirectory);
        private readonly StringBuilder partial = new();
        private long offset;
        private int shownTransitions;
        private string? progress;
        private DateTime lastPrinted = DateTime.MinValue;

        public async Task<JobStatus> RunAsync(ProgressTask? bar, CancellationToken interrupt)
        {
            while (true)
            {
                var status = await grain.GetStatusAsync();
                ShowTransitions(status, bar);
                ReadMetrics();
                ShowProgress(bar, status);
                if (JobTransitions.IsTerminal(status.Phase) || interrupt.IsCancellationRequested) return status;
                try { await Task.Delay(Poll, interrupt); }
                catch (OperationCanceledException) { }
            }
        }

        private void ShowTransitions(JobStatus status, ProgressTask? bar)
        {
            for (; shownTransitions < status.History.Length; shownTransitions++)
            {
                var t = status.History[shownTransitions];
                var note = t.Note is null ? "" : $" ({t.Note})";
                AnsiConsole.MarkupLineInterpolated($"[grey]{t.At.ToLocalTime():HH:mm:ss}[/] {t.To.ToString().ToLowerInvariant()}{note}");
            }
            if (bar is not null && progress is null) bar.Description = status.Phase.ToString().ToLowerInvariant();
        }

        private void ShowProgress(ProgressTask? bar, JobStatus status)
        {
            if (progress is null) return;
            var text = $"{status.Phase.ToString().ToLowerInvariant()}: {progress}";
            if (status.LastHeartbeat is { } beat) // the worker link: how fresh the control plane's view is
            {
                text += $" | heartbeat {Math.Max(0, (DateTimeOffset.UtcNow - beat.ReceivedAt).TotalSeconds):0.0} s ago, step {beat.Heartbeat.Step}, {beat.Heartbeat.SamplesPerSecond:N0} samples/s";
                if (JobStatusView.StepSplitPercent(beat.Heartbeat) is { } split) text += $", {split}";
            }
            if (bar is not null)
                bar.Description = Markup.Escape(text);
            else if (DateTime.UtcNow - lastPrinted > TimeSpan.FromSeconds(2))
            {
                lastPrinted = DateTime.UtcNow;
                Console.WriteLine(text);
            }
        }

        private void ReadMetrics()
        {
            if (!File.Exists(metricsPath)) return;
            try
            {
                using var stream = new FileStream(metricsPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                if (stream.Length < offset)
                {
                    offset = 0; // rewritten on resume
                    partial.Clear();
                }
                stream.Seek(offset, SeekOrigin.Begin);
                using var reader = new StreamReader(stream, Encoding.UTF8);
                partial.Append(reader.ReadToEnd());
                offset = stream.Length;
            }
            catch (IOException)
            {
                return; // being replaced; next poll
            }
            var text = partial.ToString();
            var end = text.LastIndexOf('\n');
            if (end < 0) return;
            partial.Clear().Append(text[(end + 1)..]);
            foreach (var line in text[..end].Split('\n', StringSplitOptions.RemoveEmptyEntries))
                ReadRecord(line);
        }

        private void ReadRecord(string line)
        {
            try
            {
                using var doc = JsonDocument.Parse(line);
                var r = doc.RootElement;
                if (r.TryGetProperty("test_accuracy", out var accuracy))
                    AnsiConsole.MarkupLineInterpolated($"epoch {Int(r, "epoch") + 1}: test accuracy [bold]{accuracy.GetDouble():P2}[/]");
                else if (r.TryGetProperty("loss", out var loss) && r.TryGetProperty("seconds", out var seconds) && r.TryGetProperty("samples", out var samples))
                    progress = $"epoch {Int(r, "epoch") + 1} step {Int(r, "step")} loss {loss.GetDouble():F4} {samples.GetDouble() / Math.Max(seconds.GetDouble(), 1e-9):N0} samples/s";
            }
            catch (JsonException)
            {
                // a torn line; the trainer rewrites whole lines
            }
        }

        private static long Int(JsonElement record, string name) =>
            record.TryGetProperty(name, out var value) && value.TryGetInt64(out var n) ? n : 0;
    }

    private static RunSummary? ReadSummary(string runDirectory)
    {
        var path = RunLayout.Summary(runDirectory);
        if (!File.Exists(path)) return null;
        try { return JsonSerializer.Deserialize<RunSummary>(File.ReadAllText(path), JsonFormat.Lines); }
        catch (JsonException) { return null; }
    }

    private static void PrintLogTail(string logPath)
    {
        if (!File.Exists(logPath)) return;
        var tail = File.ReadLines(logPath).TakeLast(15).ToList();
        ConsoleSetup.Error.MarkupLineInterpolated($"[grey]last lines of {logPath}:[/]");
        foreach (var line in tail) ConsoleSetup.Error.WriteLine(line, Style.Plain);
    }
}
