using System.Diagnostics;
using Orchestrator.Silos.Emulation;
using Orchestrator.Silos.Hosting;
using Orchestrator.Spec;
using Orchestrator.Trainer.Telemetry;

namespace Orchestrator.Bench.Drivers;

/// <summary>Median per-step figures of one job on the emulated cluster (steps after the first <see cref="EmulatedClusterJobs.SkippedSteps"/>).</summary>
public sealed record ClusterStepFigures(double StepSeconds, double ComputeSeconds, double SyncSeconds, double BytesPerStep, int Samples, double FinalAccuracy);

/// <summary>
/// Jobs submitted to an emulated cluster (<see cref="EmulatedCluster"/>) exactly as a user would (<c>submit</c>, <c>status
/// --watch</c> inside node 1), and the figures their rank 0 wrote to <c>metrics.jsonl</c> in the shared runs root.
/// </summary>
public sealed class EmulatedClusterJobs(EmulatorOptions cluster)
{
    /// <summary>Steps not measured (start-up, allocator warm-up).</summary>
    public const int SkippedSteps = 3;

    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(20);

    /// <summary>The run directory of job <paramref name="name"/>.</summary>
    public string RunDirectory(string name) => Path.Combine(cluster.RunsRootOrDefault, name);

    /// <summary>Runs an orchestrator command inside node <paramref name="node"/> (1-based) and returns its output; throws when it fails.</summary>
    public static ChildResult Cli(int node, TimeSpan limit, params string[] args)
    {
        var (argv, environment) = EmulatedCluster.ClientCommand(node - 1, SiloSetup.DotnetHostPath(), SiloSetup.EntryAssemblyPath(), args);
        var result = ChildProcess.Run(argv[0], argv.Skip(1), limit, "apt-get install -y iproute2",
            environment: environment.ToDictionary(v => v.Key, string? (v) => v.Value));
        if (result.TimedOut) throw new UserFacingException($"orchestrator {string.Join(' ', args)} on node{node} ran longer than {limit}");
        return result;
    }

    /// <summary>Submits <paramref name="specPath"/> with <paramref name="settings"/> as job <paramref name="name"/> and returns at once.</summary>
    public void Submit(string specPath, string name, IEnumerable<string> settings)
    {
        var submit = Cli(1, TimeSpan.FromMinutes(2), ["submit", specPath, "--set", $"name={name}", .. settings.SelectMany(s => new[] { "--set", s })]);
        if (submit.ExitCode != 0) throw new UserFacingException($"submit {name} failed:\n{submit.Stdout}{submit.Stderr}");
    }

    /// <summary>Waits for job <paramref name="name"/> to end (at most <paramref name="limit"/>, 20 minutes unless given); throws unless it succeeded.</summary>
    public void WaitSucceeded(string name, int clientNode = 1, TimeSpan? limit = null)
    {
        var watch = Cli(clientNode, limit ?? Limit, "status", name, "--watch");
        if (watch.ExitCode != 0)
            throw new UserFacingException($"job {name} did not succeed:\n{watch.Stdout}{watch.Stderr}\n{Cli(clientNode, TimeSpan.FromMinutes(1), "logs", name).Stdout}");
    }

    /// <summary>Submits, waits for success and reads the medians.</summary>
    public ClusterStepFigures Run(string specPath, string name, IEnumerable<string> settings)
    {
        Submit(specPath, name, settings);
        WaitSucceeded(name);
        return Figures(name);
    }

    /// <summary>The medians of job <paramref name="name"/>'s measured steps and its final test accuracy.</summary>
    public ClusterStepFigures Figures(string name)
    {
        var (all, evaluations) = MetricsLog.Read(RunLayout.Metrics(RunDirectory(name)));
        var steps = all.Skip(SkippedSteps).ToList();
        if (steps.Count == 0) throw new UserFacingException($"job {name}: fewer than {SkippedSteps + 1} steps to measure");
        static double Median(IEnumerable<double> values) => Commands.BenchCommand.Median(values.ToList());
        return new ClusterStepFigures(Median(steps.Select(s => s.Seconds)), Median(steps.Select(s => s.ComputeSeconds)),
            Median(steps.Select(s => s.CompressionSeconds + s.CommunicationSeconds)), Median(steps.Select(s => (double)s.BytesSent)),
            steps[0].Samples, evaluations.Count > 0 ? evaluations[^1].TestAccuracy : double.NaN);
    }

    /// <summary>
    /// Job <paramref name="name"/>'s test accuracy after each epoch, with the training seconds up to that epoch's end: its
    /// steps' wall times summed (data, forward, backward, gradient exchange, update; evaluations excluded, as the PyTorch peer
    /// counts).
    /// </summary>
    public IReadOnlyList<EpochAccuracy> Epochs(string name)
    {
        var (steps, evaluations) = MetricsLog.Read(RunLayout.Metrics(RunDirectory(name)));
        return [.. evaluations.Select((e, i) => new EpochAccuracy(i + 1, steps.Where(s => s.Step <= e.Step).Sum(s => s.Seconds), e.TestAccuracy))];
    }

    /// <summary>Seconds from submitting job <paramref name="name"/> until its first step is in <c>metrics.jsonl</c>.</summary>
    public double SecondsToFirstStep(string specPath, string name, IEnumerable<string> settings)
    {
        var clock = Stopwatch.StartNew();
        Submit(specPath, name, settings);
        var metrics = RunLayout.Metrics(RunDirectory(name));
        while (StepsIn(metrics) == 0)
        {
            if (clock.Elapsed > Limit) throw new UserFacingException($"job {name} made no step within {Limit}");
            Thread.Sleep(50);
        }
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// Seconds from killing every process of the node that runs rank 1 of the running job <paramref name="name"/> (its silo
    /// too: the machine is gone) until the job trains again: the restarted launch has resumed from its checkpoint and written
    /// a step.
    /// </summary>
    public double SecondsToRecover(string name)
    {
        var log = Path.Combine(RunDirectory(name), "logs", "launcher.log");
        var metrics = RunLayout.Metrics(RunDirectory(name));
        var rankOne = System.Text.RegularExpressions.Regex.Match(File.ReadAllText(log), @"rank 1 of \d+ on host node(\d+)");
        if (!rankOne.Success) throw new UserFacingException($"job {name}: no host line of rank 1 in {log}");
        var victim = int.Parse(rankOne.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) - 1;
        var resumedBefore = Resumes(log);
        var clock = Stopwatch.StartNew();
        foreach (var pid in NetworkFabric.ProcessesOf(EmulatedCluster.NodeNamespace(victim)))
        {
            try { Process.GetProcessById(pid).Kill(); }
            catch (ArgumentException) { }
        }
        DateTime resumedAt = default;
        while (true)
        {
            if (clock.Elapsed > Limit) throw new UserFacingException($"job {name} did not train again within {Limit} of losing node{victim + 1}");
            if (resumedAt == default && Resumes(log) > resumedBefore) resumedAt = DateTime.UtcNow;
            if (resumedAt != default && File.GetLastWriteTimeUtc(metrics) > resumedAt && StepsIn(metrics) > 0) return clock.Elapsed.TotalSeconds;
            Thread.Sleep(50);
        }
    }

    private static int Resumes(string log) =>
        File.Exists(log) ? File.ReadLines(log).Count(l => l.Contains("resumed from", StringComparison.Ordinal)) : 0;

    private static int StepsIn(string metrics)
    {
        try { return File.Exists(metrics) ? MetricsLog.Read(metrics).Steps.Count : 0; }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException) { return 0; } // being written
    }
}
