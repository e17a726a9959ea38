using System.CommandLine;
using Orchestrator.Contracts.Models;
using Orchestrator.Spec;
using Orchestrator.Silos.Terminal;
using Orchestrator.Silos.Hosting;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Compression;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Devices;
using Orchestrator.Trainer.Telemetry;
using Orchestrator.Trainer.Training;

namespace Orchestrator.Silos.Commands;

/// <summary>
/// <c>orchestrator train SPEC [--set k=v]... [--out DIR] [--fresh] [--metrics-port P]</c>: trains in this process, or as one
/// worker of a data-parallel job when started by <c>mpirun.mpich -np N</c> (rank 0 shows progress and
/// writes the run directory; every rank trains its shard).
/// </summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var spec = new Argument<FileInfo>("spec") { Description = "Job spec (YAML), e.g. examples/fashion-mnist.yaml" };
        var set = SpecOptions.Set();
        var output = new Option<string?>("--out") { Description = "Run directory for metrics, summary, plots and checkpoints (default: runs/<name>)" };
        var fresh = new Option<bool>("--fresh") { Description = "Discard checkpoints in the run directory and start from step 0 (default: resume from the newest valid one)" };
        var metricsPort = new Option<int?>("--metrics-port") { Description = "Serve Prometheus metrics of rank R on port P+R (0 = off; overrides metrics.port)" }
            .Between(0, SpecVocabulary.MaxPort, $"0 (off) or a port 1..{SpecVocabulary.MaxPort}");
        var hooks = new TrainTestHooks();
        var command = new Command("train", "Train a job: in this process, or as the workers of mpirun.mpich -np N") { spec, set, output, fresh, metricsPort };
        hooks.AddTo(command);
        command.SetAction(parse => CommandGuard.Run(() => Execute(new TrainRequest(parse.GetValue(spec)!, parse.GetValue(set) ?? [],
            parse.GetValue(output), parse.GetValue(fresh), parse.GetValue(metricsPort), hooks.Read(parse)))));
        return command;
    }

    private sealed record TrainRequest(FileInfo Spec, string[] Overrides, string? Output, bool Fresh, int? MetricsPort, WorkerTestHooks Hooks);

    private static int Execute(TrainRequest request)
    {
        var world = WorkerWorld.FromEnvironment();
        // Before MPI starts: every rank reaches the same verdict, so each can exit on its own without
        // MPI_Abort (which may kill the launcher before it forwards the message).
        var runs = Runs(request, world.Size);
        if (!world.IsDistributed)
            return InTurn(runs, (job, run) => Train(job, run, world, new SingleProcessSynchronizer(), barrier: () => { }));

        using var communicator = MpiCommunicator.Initialize(world.Size);
        // An error on one rank must abort the whole job: a rank that just exits leaves the others in a collective.
        return communicator.Guard(() => InTurn(runs, (job, run) =>
        {
            using var synchronizer = new MpiGradientSynchronizer(communicator, job.CompressionOrDefault, job.Training.Seed, request.Hooks.Implementation);
            return Train(job, run, world, synchronizer, communicator.Barrier);
        }));
    }

    /// <summary>
    /// The runs to make: the spec as asked, or (<c>--variant</c>) once per variant into its own directory. A
    /// variant sweep exists because a small test model trains in less time than a job's start-up (runtime,
    /// TorchSharp, MPI) takes, so one job training many configurations keeps the distributed tests fast.
    /// </summary>
    private static List<(JobSpec Job, TrainRequest Run)> Runs(TrainRequest request, int workers)
    {
        if (request.Hooks.Variants is not { Count: > 0 }) return [(Load(request, request.Overrides, workers), request)];
        var runs = new List<(JobSpec, TrainRequest)>();
        foreach (var variant in request.Hooks.Variants)
        {
            var job = Load(request, [.. request.Overrides, .. variant.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)], workers);
            string root = request.Output ?? RunLayout.DefaultFor(job.Name);
            runs.Add((job, request with { Output = Path.Combine(root, runs.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)) }));
        }
        return runs;
    }

    private static JobSpec Load(TrainRequest request, string[] overrides, int workers)
    {
        // The memory estimate is checked where one process decides for the job (a single worker here; `run` before it
        // launches): ranks of a gang load the spec at the same time, would each see the others' memory go, and must
        // all reach the same verdict before MPI starts.
        var host = workers == 1 ? SpecHost.Measure() : SpecHost.CoresOnly;
        var job = JobSpecLoader.LoadFile(request.Spec.FullName, overrides, host);
        if (request.MetricsPort is { } port)
            job = job with { Metrics = job.MetricsOrDefault with { Port = port } };
        return WorkerCountRule.ForWorkers(job, workers);
    }

    /// <summary>Trains the runs one after the other; the first that does not exit 0 ends the sequence with its code.</summary>
    private static int InTurn(List<(JobSpec Job, TrainRequest Run)> runs, Func<JobSpec, TrainRequest, int> train)
    {
        foreach (var (job, run) in runs)
        {
            int code = train(job, run);
            if (code != 0) return code;
        }
        return 0;
    }

    private static int Train(JobSpec job, TrainRequest request, WorkerWorld world, IGradientSynchronizer synchronizer, Action barrier)
    {
        bool leader = world.Rank == 0;
        var run = RunDirectory.Open(request.Output ?? RunLayout.DefaultFor(job.Name));
        if (leader)
        {
            if (request.Fresh && Directory.Exists(run.Checkpoints)) Directory.Delete(run.Checkpoints, recursive: true);
            File.WriteAllText(run.Spec, JobSpecYaml.ToYaml(job));
        }
        barrier(); // no rank looks for checkpoints while rank 0 may still be discarding them

        ThreadBudget.Apply(job.Training.Threads, world.LocalSize);
        var device = DeviceSelector.Select(job.Device, world.LocalRank);
        var data = DatasetRegistry.Load(job.Data, job.Training.Seed);

        using var metrics = TrainerEndpoint.Start(job, world);
        if (world.Size > 1) // where each rank runs: its host, and the ranks it shares the node (and memory) with
            Console.WriteLine($"rank {world.Rank} of {world.Size} on host {Environment.MachineName} (local rank {world.LocalRank} of {world.LocalSize})");
        if (leader && world.LocalSize < world.Size && MpiCommunicator.EagerThreshold is { } eager) // ranks on other nodes
            Console.WriteLine($"UCX can only use TCP between nodes here: every message is sent eagerly ({UcxRendezvousPolicy.Variable}={eager}; set it to keep UCX's own)");
        using var ctrlC = CtrlC.Listen(); // per run: a variant sweep's later runs must not see a finished run's press
        // Every rank of an orchestrated job heartbeats the control plane (the worker link); rank 0 takes its directives.
        var link = WorkerLink.FromEnvironment(world.Rank);
        bool stoppedEarly = false;
        using var samples = SampleLog.FromEnvironment(run.Path, WorkerLink.LaunchFromEnvironment(), world.Rank);
        RunSummary Body(ITrainingObserver observer)
        {
            try
            {
                using var training = new TrainingRun(job, data, new TrainingOptions(device, run, synchronizer, observer,
                    request.Hooks.StopAfter, Faults: request.Hooks.Faults, VerifyEverySteps: request.Hooks.VerifyEverySteps, Directives: leader && link is not null ? link.TakeDirective : null,
                    Samples: samples));
                var result = training.Run(ctrlC.Token);
                stoppedEarly = training.StoppedEarly;
                return result;
            }
            catch (Exception e) when (OutOfMemory.Explain(e, job) is { } explained)
            {
                throw explained;
            }
        }
        RunSummary summary;
        try
        {
            summary = leader
                ? TrainingProgressView.Show(view => Body(CompositeTrainingObserver.Of(view, metrics?.Observer, link?.Observer)))
                : Body(CompositeTrainingObserver.Of(metrics?.Observer, link?.Observer));
        }
        finally
        {
            link?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        bool interrupted = ctrlC.Pressed || stoppedEarly;
        if (leader) SummaryTable.Print(summary, run.Path, interrupted: interrupted);
        if (metrics is not null && request.Hooks.LingerSeconds > 0 && !interrupted)
            Thread.Sleep(TimeSpan.FromSeconds(request.Hooks.LingerSeconds)); // let a scraper read the final values
        // Ctrl+C is CtrlC.ExitCode; a Stop from the control plane (a rescale) is the planned end of this gang: 0.
        return ctrlC.Pressed ? CtrlC.ExitCode : 0;
    }
}
