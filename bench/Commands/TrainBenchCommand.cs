using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Orchestrator.Bench.Drivers;
using Orchestrator.Bench;
using Orchestrator.Silos.Commands;
using Orchestrator.Silos.Terminal;
using Orchestrator.Spec;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Devices;
using Spectre.Console;

namespace Orchestrator.Bench.Commands;

/// <summary>
/// <c>orchestrator bench train [--workers N]</c>: training throughput against PyTorch 1.13: one process
/// vs one process, or N MPI workers (each codec asked for) vs DDP with gloo, same CNN, global batch,
/// threads per worker and data, alternating runs.
/// </summary>
public static class TrainBenchCommand
{
    private const string WorkerCommand = "train-worker";

    public static Command Create()
    {
        var workers = new Option<int>("--workers") { Description = "Data-parallel workers (1 = single process vs single process; N = MPI workers vs DDP gloo)", DefaultValueFactory = _ => 1 }.Between(1, SpecVocabulary.MaxWorkers);
        var codecs = new Option<string>("--codecs") { Description = "With --workers > 1: gradient codecs to measure, e.g. none,nm+int8 (nm: 2:4 mvue)", DefaultValueFactory = _ => "none,nm+int8" };
        var runs = new Option<int>("--runs") { Description = "Runs of each system, alternating", DefaultValueFactory = _ => 5 }.AtLeast(1);
        var steps = new Option<int>("--steps") { Description = "Timed steps per run", DefaultValueFactory = _ => 30 }.AtLeast(1);
        var warmup = new Option<int>("--warmup") { Description = "Untimed steps before timing", DefaultValueFactory = _ => 5 }.AtLeast(0);
        var threads = new Option<int>("--threads") { Description = "Torch threads per worker, the same for both (0 = cores / workers)", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var python = new Option<string>("--python") { Description = "Python with PyTorch (Debian python3-torch)", DefaultValueFactory = _ => "/usr/bin/python3" };
        var root = new Option<string>("--root") { Description = "Fashion-MNIST directory", DefaultValueFactory = _ => MnistIdxDataset.FashionMnistDefaultRoot };
        var command = new Command("train", "Training throughput: ours vs PyTorch (single process, or N workers vs DDP gloo)") { workers, codecs, runs, steps, warmup, threads, python, root };
        command.SetAction(parse => CommandGuard.Run(() => Run(new Settings(parse.GetValue(workers), parse.GetValue(codecs)!, parse.GetValue(runs), parse.GetValue(steps),
            parse.GetValue(warmup), parse.GetValue(threads), parse.GetValue(python)!, parse.GetValue(root)!))));
        return command;
    }

    /// <summary>The hidden per-worker half, run by <c>bench train --workers N</c> under mpirun.</summary>
    public static Command CreateWorker()
    {
        var codec = new Option<string>("--codec") { DefaultValueFactory = _ => CodecKind.None.SpecName() };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => 1 }.AtLeast(0);
        var steps = new Option<int>("--steps") { DefaultValueFactory = _ => 30 }.AtLeast(1);
        var warmup = new Option<int>("--warmup") { DefaultValueFactory = _ => 5 }.AtLeast(0);
        var root = new Option<string>("--root") { DefaultValueFactory = _ => MnistIdxDataset.FashionMnistDefaultRoot };
        var command = new Command(WorkerCommand, "One worker of the data-parallel throughput benchmark (under mpirun)") { codec, threads, steps, warmup, root };
        command.Hidden = true;
        command.SetAction(parse => CommandGuard.Run(() =>
        {
            var world = WorkerWorld.FromEnvironment();
            using var communicator = MpiCommunicator.Initialize(world.Size);
            return communicator.Guard(() =>
            {
                int resolved = ThreadBudget.Apply(parse.GetValue(threads), world.LocalSize);
                var spec = TrainThroughputBenchmark.Spec(parse.GetValue(root)!, resolved, world.Size, Compression(parse.GetValue(codec)!));
                var data = DatasetRegistry.Load(spec.Data, spec.Training.Seed);
                using var synchronizer = new MpiGradientSynchronizer(communicator, spec.CompressionOrDefault, spec.Training.Seed);
                double rate = new TrainThroughputBenchmark(parse.GetValue(warmup), parse.GetValue(steps)).MeasureOurs(spec, data, synchronizer);
                if (world.Rank == 0)
                    Console.WriteLine(JsonSerializer.Serialize(new { samples_per_second = rate, workers = world.Size, codec = parse.GetValue(codec) }));
                return 0;
            });
        }));
        return command;
    }

    private sealed record Settings(int Workers, string Codecs, int Runs, int Steps, int Warmup, int Threads, string Python, string Root);

    private static CompressionSpec Compression(string name)
    {
        var codec = SpecChoice.ParseUserInput<CodecKind>("--codec", name, SpecNames.SpecName);
        return CompressionSpec.Default with { Codec = codec, N = 2, M = 4, Algorithm = JobSpecDefaults.Algorithm(codec) };
    }

    private static int Run(Settings s)
    {
        int threads = s.Threads > 0 ? s.Threads : ThreadBudget.Resolve(0, s.Workers, Environment.ProcessorCount);
        string scripts = Path.Combine(AppContext.BaseDirectory, "bench", "pytorch");
        var bench = new TrainThroughputBenchmark(s.Warmup, s.Steps);
        var limit = TimeSpan.FromMinutes(10);
        var systems = new List<(string Name, Func<double> Measure)>();
        string common = $"--warmup {s.Warmup} --steps {s.Steps}";
        if (s.Workers == 1)
        {
            ThreadBudget.Apply(threads);
            var spec = TrainThroughputBenchmark.Spec(s.Root, threads, 1, CompressionSpec.Default);
            var data = DatasetRegistry.Load(spec.Data, spec.Training.Seed);
            systems.Add(("ours", () => bench.MeasureOurs(spec, data, new SingleProcessSynchronizer())));
            systems.Add(("PyTorch", () => TrainThroughputBenchmark.MeasureProcess(s.Python,
                [Path.Combine(scripts, "train_throughput.py"), "--root", s.Root, "--threads", $"{threads}", .. common.Split(' ')], limit)));
        }
        else
        {
            var self = HarnessVerbs.EntryAssemblyFor(AppContext.BaseDirectory, "bench");
            var dotnet = Environment.ProcessPath ?? "dotnet";
            foreach (var codec in s.Codecs.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                systems.Add(($"ours {codec}", () => TrainThroughputBenchmark.MeasureProcess("mpirun.mpich",
                    ["-np", $"{s.Workers}", dotnet, self, "bench", WorkerCommand, "--codec", codec, "--threads", $"{threads}", "--root", s.Root, .. common.Split(' ')], limit)));
            systems.Add(("PyTorch DDP gloo", () => TrainThroughputBenchmark.MeasureProcess(s.Python,
                [Path.Combine(scripts, "ddp_throughput.py"), "--workers", $"{s.Workers}", "--root", s.Root, "--threads", $"{threads}", .. common.Split(' ')], limit)));
        }

        AnsiConsole.MarkupLineInterpolated($"cnn w32, global batch 256, {s.Workers} worker(s) x {threads} thread(s), {s.Warmup} warm-up + {s.Steps} timed steps, {s.Runs} alternating runs each");
        var results = systems.ToDictionary(x => x.Name, _ => new List<double>());
        for (int run = 0; run < s.Runs; run++)
            foreach (var (name, measure) in systems)
            {
                results[name].Add(measure());
                AnsiConsole.MarkupLineInterpolated($"run {run + 1}: {name} {results[name][^1]:F0} samples/s");
            }

        var table = new Table().AddColumn("run");
        foreach (var (name, _) in systems) table.AddColumn($"{name} (samples/s)");
        for (int run = 0; run < s.Runs; run++)
            table.AddRow([$"{run + 1}", .. systems.Select(x => results[x.Name][run].ToString("F0", CultureInfo.InvariantCulture))]);
        var medians = systems.ToDictionary(x => x.Name, x => BenchCommand.Median(results[x.Name]));
        table.AddRow(["[bold]median[/]", .. systems.Select(x => $"[bold]{medians[x.Name]:F0}[/]")]);
        AnsiConsole.Write(table);
        double peer = medians[systems[^1].Name];
        foreach (var (name, _) in systems.SkipLast(1))
            AnsiConsole.MarkupLineInterpolated($"ratio {name}/{systems[^1].Name} = [bold]{medians[name] / peer:F3}[/]");
        return 0;
    }
}
