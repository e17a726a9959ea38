using System.CommandLine;
using System.Globalization;
using System.Text;
using Orchestrator.Bench.Drivers;
using Orchestrator.Silos.Commands;
using Orchestrator.Silos.Terminal;
using Orchestrator.Spec;
using Orchestrator.Trainer.Data;
using Spectre.Console;

namespace Orchestrator.Bench.Commands;

/// <summary>
/// <c>orchestrator bench compression</c>: final Fashion-MNIST test accuracy of data-parallel training with
/// each gradient codec (none, int8, 2:4 and 1:2 MVUE + int8, and the biased 2:4 greedy baseline), several seeds.
/// </summary>
public static class CompressionAccuracyBenchCommand
{
    private static readonly (string Label, CompressionSpec Spec)[] Codecs =
    [
        ("none (fp32 MPI_Allreduce)", CompressionSpec.Default with { Codec = CodecKind.None, Algorithm = AllreduceKind.Mpi }),
        ("int8", CompressionSpec.Default with { Codec = CodecKind.Int8, Algorithm = AllreduceKind.Ring }),
        ("2:4 mvue + int8", CompressionSpec.Default with { Codec = CodecKind.NmInt8, N = 2, M = 4, Pruner = PrunerKind.Mvue, Algorithm = AllreduceKind.Ring }),
        ("1:2 mvue + int8", CompressionSpec.Default with { Codec = CodecKind.NmInt8, N = 1, M = 2, Pruner = PrunerKind.Mvue, Algorithm = AllreduceKind.Ring }),
        ("2:4 greedy + int8 (biased)", CompressionSpec.Default with { Codec = CodecKind.NmInt8, N = 2, M = 4, Pruner = PrunerKind.Greedy, Algorithm = AllreduceKind.Ring }),
    ];

    public static Command Create()
    {
        var workers = new Option<int>("--workers") { DefaultValueFactory = _ => 2 }.Between(1, SpecVocabulary.MaxWorkers);
        var seeds = new Option<int>("--seeds") { DefaultValueFactory = _ => 2 }.AtLeast(1);
        var epochs = new Option<int>("--epochs") { DefaultValueFactory = _ => 3 }.AtLeast(1);
        var subset = new Option<int>("--train-subset") { Description = "Training samples (0 = all 60,000)", DefaultValueFactory = _ => 20_000 }.AtLeast(0);
        var root = new Option<string>("--root") { DefaultValueFactory = _ => MnistIdxDataset.FashionMnistDefaultRoot };
        var record = new Option<string?>("--record") { Description = "Also write the table as Markdown to this file" };
        var command = new Command("compression", "Fashion-MNIST accuracy of data-parallel training per gradient codec") { workers, seeds, epochs, subset, root, record };
        command.SetAction(parse => CommandGuard.Run(() => Run(parse.GetValue(workers), parse.GetValue(seeds), parse.GetValue(epochs), parse.GetValue(subset),
            parse.GetValue(root)!, parse.GetValue(record), string.Join(" ", parse.Tokens.Where(t => t.Type != System.CommandLine.Parsing.TokenType.Command).Select(t => t.Value)))));
        return command;
    }

    private static JobSpec Spec(int workers, long seed, int epochs, int subset, string root, CompressionSpec compression) =>
        new($"codec-accuracy", DeviceKind.Cpu, new ModelSpec(ModelKind.Cnn, 32, NormKind.Batch),
            new DataSpec(DatasetKind.FashionMnist, root, subset, 0, new AugmentSpec(0, false, 0)),
            new TrainingSpec(epochs, 128, new OptimizerSpec(OptimizerKind.Sgd, 0.02, 0.9, false, 5e-4), seed, 0,
                Regime: new RegimeSpec(LrScalingKind.None, 128, false, 0, 0, [new RegimePhase(0, Lr: 0.02, Schedule: ScheduleKind.Cosine)])),
            new CheckpointSpec(0, 1), workers, compression with { MinCompressElements = 1024 });

    private static int Run(int workers, int seeds, int epochs, int subset, string root, string? record, string args)
    {
        var scratch = Path.Combine(Path.GetTempPath(), $"orchestrator-codec-accuracy-{Environment.ProcessId}");
        var rows = new StringBuilder()
            .AppendLine("| codec | test accuracy (mean) | per seed | vs none | wire ratio | bytes sent/step/rank | samples/s |")
            .AppendLine("|---|---|---|---|---|---|---|");
        double? reference = null;
        try
        {
            foreach (var (label, compression) in Codecs)
            {
                var accuracies = new List<double>();
                double ratio = 0, bytes = 0, rate = 0;
                for (long seed = 1; seed <= seeds; seed++)
                {
                    var summary = MpiJobRunner.Train(Spec(workers, seed, epochs, subset, root, compression), Path.Combine(scratch, $"{compression.Codec.SpecName()}-{compression.N}{compression.M}-{compression.Pruner.SpecName()}-{seed}"), TimeSpan.FromMinutes(30));
                    accuracies.Add(summary.GetProperty("test_accuracy").GetDouble());
                    ratio = summary.GetProperty("compression_ratio").GetDouble();
                    bytes = summary.GetProperty("bytes_sent_per_step").GetDouble();
                    rate += summary.GetProperty("samples_per_second").GetDouble() / seeds;
                    AnsiConsole.MarkupLineInterpolated($"{label} seed {seed}: test accuracy {accuracies[^1]:P2}");
                }
                double mean = accuracies.Average();
                reference ??= mean;
                rows.AppendLine($"| {label} | {mean:P2} | {AccuracyRecord.PerSeed(accuracies)} | "
                    + $"{(mean - reference.Value) * 100:+0.00;-0.00;0.00} pt | {ratio:F2}x | {bytes:N0} | {rate:N0} |");
            }
        }
        finally
        {
            if (Directory.Exists(scratch)) Directory.Delete(scratch, recursive: true);
        }
        AccuracyRecord.Show(rows.ToString(), record, "Gradient compression: accuracy with data-parallel workers", $"compression {args}",
            $"Fashion-MNIST, {(subset > 0 ? subset.ToString("N0", CultureInfo.InvariantCulture) : "60,000")} training samples, full test set, cnn w32, {workers} MPI workers on one machine, "
            + $"global batch 128, SGD momentum 0.9, wd 5e-4, lr 0.02 cosine to 0, {epochs} epochs, seeds 1..{seeds}; {DateTime.UtcNow:yyyy-MM-dd}.");
        return 0;
    }
}
