using Orchestrator.Spec;
using Orchestrator.Trainer.Telemetry;

namespace Orchestrator.Bench.Drivers;

/// <summary>Median per-step figures of a 2-worker job whose traffic crossed a <see cref="ShapedLinkPair"/>.</summary>
/// <param name="StepSeconds">Whole step.</param>
/// <param name="ComputeSeconds">Of it, not waiting for gradient synchronization (data, forward, backward, update).</param>
/// <param name="SyncSeconds">Gradient encoding, decoding and allreduce transfers, hidden behind the backward or not.</param>
/// <param name="HiddenSeconds">Of <paramref name="SyncSeconds"/>, what ran before the step began to wait for it (overlap).</param>
/// <param name="BytesPerStep">Allreduce payload bytes rank 0 sent per step.</param>
public sealed record LinkedStepFigures(double StepSeconds, double ComputeSeconds, double SyncSeconds, double BytesPerStep, double HiddenSeconds);

/// <summary>
/// Trains a job on the two nodes of a <see cref="ShapedLinkPair"/> (one rank each, TCP over the shaped link) with
/// <c>orchestrator train</c>, as a user's mpiexec would, and reads the per-step figures rank 0 wrote to
/// <c>metrics.jsonl</c>, skipping the first steps (start-up, allocator warm-up); medians over one run's steps or several
/// runs' steps pooled.
/// </summary>
public static class LinkedWorkersStep
{
    private const int SkippedSteps = 3;

    /// <summary>Runs the job once and returns rank 0's measured steps (the first <see cref="SkippedSteps"/> left out).</summary>
    public static IReadOnlyList<StepRecord> Run(ShapedLinkPair link, JobSpec spec, string directory, IReadOnlyList<string> settings, TimeSpan limit)
    {
        if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        Directory.CreateDirectory(directory);
        var specPath = Path.Combine(directory, "job.yaml");
        File.WriteAllText(specPath, JobSpecYaml.ToYaml(spec));
        var run = Path.Combine(directory, "run");
        var command = link.MpiexecCommand([Environment.ProcessPath ?? "dotnet", HarnessVerbs.EntryAssemblyFor(AppContext.BaseDirectory, "train"),
            "train", specPath, "--out", run, "--fresh", .. settings.SelectMany(s => new[] { "--set", s })]);
        var result = ChildProcess.Run(command[0], command.Skip(1), limit, "apt-get install -y mpich iproute2 util-linux");
        if (result.TimedOut)
            throw new UserFacingException($"job {spec.Name} across the shaped link ran longer than {limit}");
        if (result.ExitCode != 0)
            throw new UserFacingException($"job {spec.Name} across the shaped link failed (exit {result.ExitCode}):\n{result.Stdout}\n{result.Stderr}");
        var steps = MetricsLog.Read(RunLayout.Metrics(run)).Steps.Skip(SkippedSteps).ToList();
        if (steps.Count == 0)
            throw new UserFacingException($"job {spec.Name}: fewer than {SkippedSteps + 1} steps to measure");
        return steps;
    }

    /// <summary>Medians over <paramref name="steps"/> (the steps of one run or of several runs pooled).</summary>
    public static LinkedStepFigures Summarize(IReadOnlyCollection<StepRecord> steps) => new(
        Median(steps.Select(s => s.Seconds)), Median(steps.Select(s => s.ComputeSeconds)),
        Median(steps.Select(s => s.CompressionSeconds + s.CommunicationSeconds)), Median(steps.Select(s => (double)s.BytesSent)),
        Median(steps.Select(s => s.HiddenSeconds)));

    private static double Median(IEnumerable<double> values) => Commands.BenchCommand.Median(values.ToList());
}
