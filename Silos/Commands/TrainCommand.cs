using System.CommandLine;
using Orchestrator.Contracts.Spec;
using Orchestrator.Silos.Console;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Devices;
using Orchestrator.Trainer.Telemetry;
using Orchestrator.Trainer.Training;
using Spectre.Console;

namespace Orchestrator.Silos.Commands;

/// <summary><c>orchestrator train SPEC [--set k=v]... [--out DIR] [--fresh]</c>: trains in this process.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var spec = new Argument<FileInfo>("spec") { Description = "Job spec (YAML), e.g. examples/fashion-mnist.yaml" };
        var set = SpecOptions.Set();
        var output = new Option<string?>("--out") { Description = "Run directory for metrics, summary, plots and checkpoints (default: runs/<name>)" };
        var fresh = new Option<bool>("--fresh") { Description = "Discard checkpoints in the run directory and start from step 0 (default: resume from the newest valid one)" };
        var command = new Command("train", "Train a job in this process (single worker) with a live progress bar") { spec, set, output, fresh };
        command.SetAction(parse => CommandGuard.Run(() => Execute(
            parse.GetValue(spec)!, parse.GetValue(set) ?? [], parse.GetValue(output), parse.GetValue(fresh))));
        return command;
    }

    private static int Execute(FileInfo specFile, string[] overrides, string? output, bool fresh)
    {
        var job = JobSpecLoader.LoadFile(specFile.FullName, overrides);
        var run = RunDirectory.Open(output ?? Path.Combine("runs", job.Name));
        if (fresh && Directory.Exists(run.Checkpoints)) Directory.Delete(run.Checkpoints, recursive: true);
        File.WriteAllText(run.Spec, JobSpecYaml.ToYaml(job));

        ThreadBudget.Apply(job.Training.Threads);
        var device = DeviceSelector.Select(job.Device);
        var data = DatasetRegistry.Load(job.Data, job.Training.Seed);

        using var stop = new CancellationTokenSource();
        System.Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true; // finish the step, checkpoint, then exit
            stop.Cancel();
        };
        var summary = TrainingProgressView.Show(observer =>
        {
            using var training = new TrainingRun(job, data, new TrainingOptions(device, run, new SingleProcessSynchronizer(), observer));
            return training.Run(stop.Token);
        });
        SummaryTable.Print(summary, run.Path, interrupted: stop.IsCancellationRequested);
        return stop.IsCancellationRequested ? 130 : 0;
    }
}
