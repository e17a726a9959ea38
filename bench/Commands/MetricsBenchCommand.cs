using System.CommandLine;
using System.Diagnostics;
using Orchestrator.Bench.Drivers;
using Orchestrator.Silos.Commands;
using Orchestrator.Silos.Terminal;
using Orchestrator.Spec;
using Orchestrator.Trainer.Data;
using Spectre.Console;

namespace Orchestrator.Bench.Commands;

/// <summary>
/// <c>orchestrator bench metrics</c>: what the Prometheus endpoints cost: training throughput with metrics
/// on vs off (alternating whole jobs), and scrape time and payload size of every rank of a running job.
/// </summary>
public static class MetricsBenchCommand
{
    public static Command Create()
    {
        var workers = new Option<int>("--workers") { DefaultValueFactory = _ => 2 }.Between(1, SpecVocabulary.MaxWorkers);
        var runs = new Option<int>("--runs") { Description = "Jobs with metrics on and off each, alternating", DefaultValueFactory = _ => 3 }.AtLeast(1);
        var scrapeWorkers = new Option<int>("--scrape-workers") { DefaultValueFactory = _ => 4 }.Between(1, SpecVocabulary.MaxWorkers);
        var root = new Option<string>("--root") { DefaultValueFactory = _ => MnistIdxDataset.FashionMnistDefaultRoot };
        var command = new Command("metrics", "Cost of the metrics endpoints: step throughput on vs off, scrape duration and payload") { workers, runs, scrapeWorkers, root };
        command.SetAction(parse => CommandGuard.Run(() => Run(parse.GetValue(workers), parse.GetValue(runs), parse.GetValue(scrapeWorkers), parse.GetValue(root)!)));
        return command;
    }

    private static JobSpec Spec(int workers, string root, int port) =>
        new("metrics-bench", DeviceKind.Cpu, new ModelSpec(ModelKind.Cnn, 16, NormKind.Batch),
            new DataSpec(DatasetKind.FashionMnist, root, 12_800, 1000, new AugmentSpec(0, false, 0)),
            new TrainingSpec(1, 128, new OptimizerSpec(OptimizerKind.Sgd, 0.02, 0.9, false, 5e-4), 1, 0),
            new CheckpointSpec(0, 1), workers, CompressionSpec.Default with { Codec = CodecKind.None, Algorithm = AllreduceKind.Mpi }, new MetricsSpec(port, "127.0.0.1"));

    private static int Run(int workers, int runs, int scrapeWorkers, string root)
    {
        var scratch = Path.Combine(Path.GetTempPath(), $"orchestrator-metrics-bench-{Environment.ProcessId}");
        try
        {
            var on = new List<double>();
            var off = new List<double>();
            for (int run = 0; run < runs; run++)
            {
                off.Add(MpiJobRunner.Train(Spec(workers, root, 0), Path.Combine(scratch, $"off-{run}"), TimeSpan.FromMinutes(10)).GetProperty("samples_per_second").GetDouble());
                on.Add(MpiJobRunner.Train(Spec(workers, root, 19400), Path.Combine(scratch, $"on-{run}"), TimeSpan.FromMinutes(10)).GetProperty("samples_per_second").GetDouble());
                AnsiConsole.MarkupLineInterpolated($"run {run + 1}: metrics off {off[^1]:F0}, on {on[^1]:F0} samples/s");
            }
            double medianOff = BenchCommand.Median(off), medianOn = BenchCommand.Median(on);
            AnsiConsole.MarkupLineInterpolated($"{workers} workers, 100 steps per job: median {medianOff:F0} samples/s off, {medianOn:F0} on: step-time overhead of metrics {(medianOff / medianOn - 1) * 100:+0.0;-0.0}%");

            // Scrape every rank of a live job (kept up by --linger-seconds after training) 20 times.
            const int basePort = 19500;
            var job = Task.Run(() => MpiJobRunner.Train(Spec(scrapeWorkers, root, basePort), Path.Combine(scratch, "scrape"), TimeSpan.FromMinutes(10), "--linger-seconds", "20"));
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            var table = new Table().AddColumns("rank", "median scrape ms", "max ms", "payload bytes");
            var deadline = DateTime.UtcNow.AddMinutes(5);
            for (int rank = 0; rank < scrapeWorkers; rank++)
            {
                var url = $"http://127.0.0.1:{basePort + rank}/metrics";
                var times = new List<double>();
                long bytes = 0;
                while (times.Count < 20 && DateTime.UtcNow < deadline)
                {
                    var clock = Stopwatch.StartNew();
                    try
                    {
                        var body = http.GetByteArrayAsync(url).GetAwaiter().GetResult();
                        times.Add(clock.Elapsed.TotalMilliseconds);
                        bytes = body.Length;
                    }
                    catch (HttpRequestException)
                    {
                        Thread.Sleep(200); // not listening yet
                    }
                }
                table.AddRow($"{rank}", times.Count > 0 ? $"{BenchCommand.Median(times):F2}" : "-", times.Count > 0 ? $"{times.Max():F2}" : "-", $"{bytes:N0}");
            }
            job.GetAwaiter().GetResult();
            AnsiConsole.MarkupLineInterpolated($"scrapes of a {scrapeWorkers}-worker job (20 per rank, during and after training):");
            AnsiConsole.Write(table);
            return 0;
        }
        finally
        {
            if (Directory.Exists(scratch)) Directory.Delete(scratch, recursive: true);
        }
    }
}
