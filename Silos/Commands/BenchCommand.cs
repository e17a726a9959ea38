using System.CommandLine;
using Orchestrator.Contracts.Spec;
using Orchestrator.Silos.Benchmarks;
using Orchestrator.Silos.Console;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Devices;
using Spectre.Console;

namespace Orchestrator.Silos.Commands;

/// <summary><c>orchestrator bench ...</c>: benchmarks that print figures (never timed asserts in tests).</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var command = new Command("bench", "Benchmarks against peer systems; prints tables to record in bench/results");
        command.Subcommands.Add(CreateTrain());
        command.Subcommands.Add(LargeBatchBenchCommand.Create());
        command.Subcommands.Add(CodecBenchCommand.Create());
        command.Subcommands.Add(AllreduceBenchCommand.Create());
        return command;
    }

    private static Command CreateTrain()
    {
        var runs = new Option<int>("--runs") { Description = "Runs of each system, alternating", DefaultValueFactory = _ => 5 };
        var steps = new Option<int>("--steps") { Description = "Timed steps per run", DefaultValueFactory = _ => 30 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed steps before timing", DefaultValueFactory = _ => 5 };
        var threads = new Option<int>("--threads") { Description = "Torch threads for both (0 = all cores)", DefaultValueFactory = _ => 0 };
        var python = new Option<string>("--python") { Description = "Python with PyTorch (Debian python3-torch)", DefaultValueFactory = _ => "/usr/bin/python3" };
        var root = new Option<string>("--root") { Description = "Fashion-MNIST directory", DefaultValueFactory = _ => "/usr/share/datasets/fashion-mnist" };
        var command = new Command("train", "Single-process training throughput: ours vs PyTorch, same CNN, batch 256, threads and data") { runs, steps, warmup, threads, python, root };
        command.SetAction(parse => CommandGuard.Run(() => RunTrain(parse.GetValue(runs), parse.GetValue(steps), parse.GetValue(warmup),
            parse.GetValue(threads), parse.GetValue(python)!, parse.GetValue(root)!)));
        return command;
    }

    private static int RunTrain(int runs, int steps, int warmup, int threads, string python, string root)
    {
        int resolvedThreads = ThreadBudget.Apply(threads);
        var spec = new JobSpec("bench-train", DeviceKind.Cpu, new ModelSpec("cnn", 32, "batch"),
            new DataSpec("fashion-mnist", root, 0, 0, new AugmentSpec(0, false, 0)),
            new TrainingSpec(1, 256, new OptimizerSpec("sgd", 0.05, 0.9, false, 5e-4), 1, resolvedThreads),
            new CheckpointSpec(0, 1));
        var script = Path.Combine(AppContext.BaseDirectory, "bench", "pytorch", "train_throughput.py");
        var benchmark = new TrainThroughputBenchmark(spec, warmup, steps, python, script);
        var data = DatasetRegistry.Load(spec.Data, spec.Training.Seed);

        AnsiConsole.MarkupLineInterpolated($"cnn w32, batch 256, {resolvedThreads} threads, {warmup} warm-up + {steps} timed steps, {runs} alternating runs each");
        var ours = new List<double>();
        var theirs = new List<double>();
        var table = new Table().AddColumns("run", "ours (samples/s)", "PyTorch (samples/s)");
        for (int i = 0; i < runs; i++)
        {
            ours.Add(benchmark.MeasureOurs(data));
            theirs.Add(benchmark.MeasurePyTorch(resolvedThreads));
            AnsiConsole.MarkupLineInterpolated($"run {i + 1}: ours {ours[^1]:F0}, PyTorch {theirs[^1]:F0}");
            table.AddRow((i + 1).ToString(), $"{ours[^1]:F0}", $"{theirs[^1]:F0}");
        }
        double oursMedian = Median(ours), theirsMedian = Median(theirs);
        table.AddRow("[bold]median[/]", $"[bold]{oursMedian:F0}[/]", $"[bold]{theirsMedian:F0}[/]");
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLineInterpolated($"ratio ours/PyTorch = [bold]{oursMedian / theirsMedian:F3}[/]");
        return 0;
    }

    internal static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
