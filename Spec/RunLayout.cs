using System.Globalization;

namespace Orchestrator.Spec;

/// <summary>
/// Where a job's run directory keeps each file: the one place that names them. The trainer writes them, the
/// launchers write the logs, the CLI and the benchmarks read them; all go through these paths.
/// </summary>
public static class RunLayout
{
    /// <summary>Parent of the run directory of a job given no <c>--out</c> (relative to the working directory).</summary>
    public const string DefaultRoot = "runs";

    /// <summary>One JSON object per optimizer step and per evaluation.</summary>
    public const string MetricsFile = "metrics.jsonl";

    /// <summary>The run's final figures.</summary>
    public const string SummaryFile = "summary.json";

    /// <summary>The resolved spec (defaults and overrides applied).</summary>
    public const string SpecFile = "spec.yaml";

    /// <summary>Folder of the atomic checkpoints.</summary>
    public const string CheckpointsFolder = "checkpoints";

    /// <summary>Folder of the launcher's log and exit-code files.</summary>
    public const string LogsFolder = "logs";

    /// <summary>Folder of the per-rank sample logs (a test hook).</summary>
    public const string SamplesFolder = "samples";

    /// <summary>The PNG plots the trainer draws, by name.</summary>
    public static IReadOnlyList<string> PlotFiles { get; } = [LossPlot, AccuracyPlot, ThroughputPlot, StepTimePlot];

    /// <summary>Training and test loss per step / epoch.</summary>
    public const string LossPlot = "loss.png";

    /// <summary>Training and test accuracy per step / epoch.</summary>
    public const string AccuracyPlot = "accuracy.png";

    /// <summary>Samples per second per step.</summary>
    public const string ThroughputPlot = "throughput.png";

    /// <summary>Step time split into compute, compression and communication.</summary>
    public const string StepTimePlot = "step-time.png";

    /// <summary><c>runs/&lt;job&gt;</c>: the run directory of <paramref name="jobName"/> when none is given.</summary>
    public static string DefaultFor(string jobName) => Path.Combine(DefaultRoot, jobName);

    /// <summary><c>DIR/metrics.jsonl</c>.</summary>
    public static string Metrics(string runDirectory) => Path.Combine(runDirectory, MetricsFile);

    /// <summary><c>DIR/summary.json</c>.</summary>
    public static string Summary(string runDirectory) => Path.Combine(runDirectory, SummaryFile);

    /// <summary><c>DIR/spec.yaml</c>.</summary>
    public static string Spec(string runDirectory) => Path.Combine(runDirectory, SpecFile);

    /// <summary><c>DIR/checkpoints</c>.</summary>
    public static string Checkpoints(string runDirectory) => Path.Combine(runDirectory, CheckpointsFolder);

    /// <summary><c>DIR/logs/launcher.log</c>: all ranks' output, each line prefixed <c>[R]</c> by MPICH's <c>-prepend-rank</c>.</summary>
    public static string LauncherLog(string runDirectory) => Path.Combine(runDirectory, LogsFolder, "launcher.log");

    /// <summary><c>DIR/logs/launch-N.exit</c>: the exit code of launch <paramref name="launch"/>, written by its supervisor when the gang ends.</summary>
    public static string LaunchExitCode(string runDirectory, int launch) =>
        Path.Combine(runDirectory, LogsFolder, $"launch-{launch.ToString(CultureInfo.InvariantCulture)}.exit");

    /// <summary><c>DIR/samples/launch-L.rank-R.txt</c>: the sample indices rank <paramref name="rank"/> trained on in launch <paramref name="launch"/>.</summary>
    public static string SampleLog(string runDirectory, int launch, int rank) =>
        Path.Combine(runDirectory, SamplesFolder, string.Create(CultureInfo.InvariantCulture, $"launch-{launch}.rank-{rank}.txt"));
}
