using System.CommandLine;
using System.Globalization;
using System.Text;
using Orchestrator.Bench.Drivers;
using Orchestrator.Silos.Commands;
using Orchestrator.Silos.Terminal;
using Orchestrator.Spec;
using Orchestrator.Trainer.Devices;
using Spectre.Console;

namespace Orchestrator.Bench.Commands;

/// <summary><c>orchestrator bench gbn</c>: training-step time with ghost batch norm over plain batch norm, same model and batch.</summary>
public static class GhostBatchNormBenchCommand
{
    public static Command Create()
    {
        var models = new Option<string>("--models") { Description = "Models, e.g. cnn,resnet20", DefaultValueFactory = _ => "cnn,resnet20" };
        var batches = new Option<string>("--batches") { Description = "Batches, e.g. 256,1024", DefaultValueFactory = _ => "256,1024" };
        var ghosts = new Option<string>("--ghosts") { Description = "Ghost batch sizes compared with plain batch norm, e.g. 32,64,128", DefaultValueFactory = _ => "64" };
        var cnnWidth = new Option<int>("--cnn-width") { Description = "CNN width (examples/fashion-mnist.yaml: 32)", DefaultValueFactory = _ => 32 }.AtLeast(1);
        var resnetWidth = new Option<int>("--resnet-width") { Description = "ResNet width (the CIFAR ResNet's 16)", DefaultValueFactory = _ => 16 }.AtLeast(1);
        var threads = new Option<int>("--threads") { Description = "Torch threads (0 = all cores)", DefaultValueFactory = _ => 2 }.AtLeast(0);
        var warmup = new Option<int>("--warmup") { Description = "Untimed steps of each configuration first", DefaultValueFactory = _ => 2 }.AtLeast(0);
        var rounds = new Option<int>("--rounds") { Description = "Interleaved rounds", DefaultValueFactory = _ => 3 }.AtLeast(1);
        var steps = new Option<int>("--steps") { Description = "Timed steps of each configuration per round", DefaultValueFactory = _ => 3 }.AtLeast(1);
        var generic = new Option<bool>("--generic") { Description = "Also time each ghost size on the generic path (chunks folded into channels; every input took it before the fused CPU path)" };
        var layers = new Option<string?>("--layers") { Description = "Instead of models: one norm layer's forward and backward over activations of these shapes (CxHxW, e.g. 32x28x28,64x14x14)" };
        var record = new Option<string?>("--record") { Description = "Also append the table as Markdown to this file" };
        var command = new Command("gbn", "Training-step time with ghost batch norm vs plain batch norm (same model, batch, threads; interleaved)")
            { models, batches, ghosts, cnnWidth, resnetWidth, threads, warmup, rounds, steps, generic, layers, record };
        command.SetAction(parse => CommandGuard.Run(() =>
        {
            var kinds = List(parse.GetValue(models)!, "--models", t => SpecChoice.ParseUserInput<ModelKind>("--models", t, SpecNames.SpecName));
            var batchList = List(parse.GetValue(batches)!, "--batches", t => Positive("--batches", t));
            var ghostList = List(parse.GetValue(ghosts)!, "--ghosts", t => Positive("--ghosts", t));
            var choices = ghostList.Select(g => new NormChoice(g)).ToList();
            if (parse.GetValue(generic)) choices.AddRange(ghostList.Select(g => new NormChoice(g, Generic: true)));
            List<NormChoice> Below(int batch)
            {
                // A ghost batch as large as the batch is plain batch norm: say so instead of dropping it unseen.
                var skipped = ghostList.Where(g => g >= batch).Distinct().ToList();
                if (skipped.Count > 0)
                    AnsiConsole.MarkupLineInterpolated($"  ghost {string.Join(", ", skipped)} not below batch {batch}: skipped (one chunk is plain batch norm)");
                return choices.Where(c => c.Ghost < batch).ToList();
            }
            int resolved = ThreadBudget.Apply(parse.GetValue(threads));
            var bench = new NormStepBenchmark(parse.GetValue(warmup), parse.GetValue(rounds), parse.GetValue(steps));
            bench.RoundFinished += (round, partial) => AnsiConsole.MarkupLineInterpolated(
                $"  round {round}: {string.Join(", ", partial.Timings.Skip(1).Select(t => $"{t.Norm.Label} {t.RoundMs[^1] / partial.BatchNorm.RoundMs[^1]:F2}x (cpu {t.RoundCpuMs[^1] / partial.BatchNorm.RoundCpuMs[^1]:F2}x)"))}; batch norm {partial.BatchNorm.RoundMs[^1]:F1} ms");
            AnsiConsole.MarkupLineInterpolated($"{resolved} torch threads; {parse.GetValue(warmup)} warm-up steps, then {parse.GetValue(rounds)} rounds of {parse.GetValue(steps)} steps per configuration");
            var results = new List<NormStepResult>();
            if (parse.GetValue(layers) is { } shapes)
                foreach (var sample in List(shapes, "--layers", Shape))
                    foreach (var batch in batchList)
                    {
                        AnsiConsole.MarkupLineInterpolated($"norm layer {string.Join("x", sample)}, batch {batch}:");
                        results.Add(bench.MeasureLayer(sample, batch, Below(batch)));
                    }
            else
                foreach (var kind in kinds)
                    foreach (var batch in batchList)
                    {
                        int width = kind == ModelKind.Cnn ? parse.GetValue(cnnWidth) : parse.GetValue(resnetWidth);
                        AnsiConsole.MarkupLineInterpolated($"{kind.SpecName()} w{width}, batch {batch}:");
                        results.Add(bench.Measure(kind, width, batch, Below(batch)));
                    }
            var markdown = Table(results);
            AnsiConsole.WriteLine();
            AnsiConsole.WriteLine(markdown);
            if (parse.GetValue(record) is { } file)
            {
                var args = string.Join(" ", parse.Tokens.Where(t => t.Type != System.CommandLine.Parsing.TokenType.Command).Select(t => t.Value));
                var text = new StringBuilder()
                    .AppendLine($"Command: `./orchestrator bench gbn {args}` ({resolved} torch threads, CPU, {DateTime.UtcNow:yyyy-MM-dd})").AppendLine()
                    .AppendLine(markdown);
                File.AppendAllText(file, text.ToString());
                AnsiConsole.MarkupLineInterpolated($"appended to {file}");
            }
            return 0;
        }));
        return command;
    }

    private static int Positive(string option, string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value : throw new UserFacingException($"{option}: '{text}' is not a positive whole number");

    private static long[] Shape(string text)
    {
        var dims = text.Split('x');
        return dims.Length == 3 ? dims.Select(d => (long)Positive("--layers", d)).ToArray()
            : throw new UserFacingException($"--layers: '{text}' is not CxHxW (e.g. 32x28x28)");
    }

    private static List<T> List<T>(string text, string option, Func<string, T> parse)
    {
        var items = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(parse).ToList();
        return items.Count > 0 ? items : throw new UserFacingException($"{option}: give at least one value");
    }

    private static string Table(IReadOnlyList<NormStepResult> results)
    {
        static string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);
        var sb = new StringBuilder();
        sb.AppendLine("| subject | batch | norm | wall ms (median) | min | max | CPU ms (median) | steps | ghost / batch norm, wall | per-round wall ratio (median) | per-round CPU ratio (median) |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in results)
            foreach (var t in r.Timings)
            {
                bool plain = t.IsBatchNorm;
                sb.AppendLine($"| {r.Subject} | {r.Batch} | {t.Norm.Label} | {F(t.MedianMs, "F1")} | {F(t.StepMs.Min(), "F1")} | {F(t.StepMs.Max(), "F1")} | {F(t.MedianCpuMs, "F1")} | {t.StepMs.Count} | "
                    + $"{(plain ? "1" : F(r.Ratio(t), "F2"))} | {(plain ? "1" : F(r.PairedRatio(t), "F2"))} | {(plain ? "1" : F(r.PairedCpuRatio(t), "F2"))} |");
            }
        return sb.ToString();
    }
}
