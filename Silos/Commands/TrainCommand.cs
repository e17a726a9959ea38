using System.CommandLine;
using Orchestrator.Contracts.Models;
using Orchestrator.Contracts.Spec;
using Orchestrator.Silos.Console;
using Orchestrator.Silos.Hosting;
using Orchestrator.Trainer.Collectives;
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
        var injectNan = new Option<string?>("--inject-nan") { Description = "Test hook: make STEP's gradient NaN on RANK (STEP:RANK)", Hidden = true };
        var verifyEvery = new Option<int>("--verify-every") { Description = "Compare parameter hashes across workers every N steps", DefaultValueFactory = _ => 100, Hidden = true }.AtLeast(0);
        var stopAfter = new Option<long?>("--stop-after") { Description = "Test hook: exit abruptly after this step, as if killed", Hidden = true }.AtLeast(0L);
        var dieAt = new Option<string?>("--die-at") { Description = "Test hook: worker RANK exits abruptly at STEP (STEP:RANK)", Hidden = true };
        var stallAt = new Option<string?>("--stall-at") { Description = "Test hook: worker RANK hangs forever at STEP (STEP:RANK)", Hidden = true };
        var perturbAt = new Option<string?>("--perturb-at") { Description = "Test hook: nudge worker RANK's parameters off the others' at STEP (STEP:RANK)", Hidden = true };
        var metricsPort = new Option<int?>("--metrics-port") { Description = "Serve Prometheus metrics of rank R on port P+R (0 = off; overrides metrics.port)" }
            .Between(0, SpecVocabulary.MaxPort, $"0 (off) or a port 1..{SpecVocabulary.MaxPort}");
        var linger = new Option<double>("--linger-seconds") { Description = "Test hook: keep the metrics endpoints up this long after training", Hidden = true }.Between(0.0, 3600.0);
        var command = new Command("train", "Train a job: in this process, or as the workers of mpirun.mpich -np N") { spec, set, output, fresh, injectNan, verifyEvery, stopAfter, dieAt, stallAt, perturbAt, metricsPort, linger };
        command.SetAction(parse => CommandGuard.Run(() =>
        {
            var faults = parse.GetValue(injectNan) is { } nan ? FaultInjection.ParseNonFinite(nan) : null;
            if (parse.GetValue(dieAt) is { } die) faults = FaultInjection.ParseDeath(die, faults);
            if (parse.GetValue(stallAt) is { } stall) faults = FaultInjection.ParseStall(stall, faults);
            if (parse.GetValue(perturbAt) is { } perturb) faults = FaultInjection.ParsePerturbation(perturb, faults);
            faults = FaultInjection.WithEnvironmentDelay(faults);
            return Execute(new TrainRequest(parse.GetValue(spec)!, parse.GetValue(set) ?? [], parse.GetValue(output), parse.GetValue(fresh),
                faults, parse.GetValue(verifyEvery), parse.GetValue(stopAfter), parse.GetValue(metricsPort), parse.GetValue(linger)));
        }));
        return command;
    }

    private sealed record TrainRequest(FileInfo Spec, string[] Overrides, string? Output, bool Fresh, FaultInjection? Faults, int VerifyEvery, long? StopAfter,
        int? MetricsPort, double LingerSeconds);

    private static int Execute(TrainRequest request)
    {
        var job = JobSpecLoader.LoadFile(request.Spec.FullName, request.Overrides);
        if (request.MetricsPort is { } port)
            job = job with { Metrics = job.MetricsOrDefault with { Port = port } };
        var world = WorkerWorld.FromEnvironment();
        // Before MPI starts: every rank reaches the same verdict, so each can exit on its own without
        // MPI_Abort (which may kill the launcher before it forwards the message).
        job = WorkerCountRule.ForWorkers(job, world.Size);
        if (!world.IsDistributed)
            return Train(job, request, world, new SingleProcessSynchronizer(), barrier: () => { });

        using var communicator = MpiCommunicator.Initialize(world.Size);
        // An error on one rank must abort the whole job: a rank that just exits leaves the others in a collective.
        return communicator.Guard(() =>
        {
            using var synchronizer = new MpiGradientSynchronizer(communicator, job.CompressionOrDefault, job.Training.Seed);
            return Train(job, request, world, synchronizer, communicator.Barrier);
        });
    }

    private static int Train(JobSpec job, TrainRequest request, WorkerWorld world, IGradientSynchronizer synchronizer, Action barrier)
    {
        bool leader = world.Rank == 0;
        var run = RunDirectory.Open(request.Output ?? Path.Combine("runs", job.Name));
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
        using var stop = new CancellationTokenSource();
        System.Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true; // finish the step, checkpoint, then exit (all workers agree on the step)
            stop.Cancel();
        };
        // Every rank of an orchestrated job heartbeats the control plane (the worker link); rank 0 takes its directives.
        var link = WorkerLink.FromEnvironment(world.Rank);
        bool stoppedEarly = false;
        using var samples = SampleLog.FromEnvironment(run.Path, WorkerLink.LaunchFromEnvironment(), world.Rank);
        RunSummary Body(ITrainingObserver observer)
        {
            using var training = new TrainingRun(job, data, new TrainingOptions(device, run, synchronizer, observer,
                request.StopAfter, Faults: request.Faults, VerifyEverySteps: request.VerifyEvery, Directives: leader && link is not null ? link.TakeDirective : null,
                Samples: samples));
            var result = training.Run(stop.Token);
            stoppedEarly = training.StoppedEarly;
            return result;
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
        bool interrupted = stop.IsCancellationRequested || stoppedEarly;
        if (leader) SummaryTable.Print(summary, run.Path, interrupted: interrupted);
        if (metrics is not null && request.LingerSeconds > 0 && !interrupted)
            Thread.Sleep(TimeSpan.FromSeconds(request.LingerSeconds)); // let a scraper read the final values
        // Ctrl+C is 130; a Stop from the control plane (a rescale) is the planned end of this gang: 0.
        return stop.IsCancellationRequested ? 130 : 0;
    }
}
