using System.CommandLine;
using System.Globalization;
using System.Text;
using Orchestrator.Bench.Drivers;
using Orchestrator.Silos.Commands;
using Orchestrator.Silos.Terminal;
using Orchestrator.Spec;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Devices;
using Spectre.Console;

namespace Orchestrator.Bench.Commands;

/// <summary><c>orchestrator bench large-batch</c>: the paper's ladder on real Fashion-MNIST.</summary>
public static class LargeBatchBenchCommand
{
    /// <summary>The ladder's rows are numbered 1..RowCount (<see cref="LargeBatchLadder.Rows"/>).</summary>
    private const int RowCount = 6;

    public static Command Create()
    {
        var root = new Option<string>("--root") { Description = "Fashion-MNIST directory", DefaultValueFactory = _ => MnistIdxDataset.FashionMnistDefaultRoot };
        var subset = new Option<int>("--train-subset") { Description = "Training samples used (0 = all 60,000)", DefaultValueFactory = _ => 15_000 }.AtLeast(0);
        var epochs = new Option<int>("--epochs") { Description = "Epochs of the baseline (row 5 trains epochs x ceil(large/small))", DefaultValueFactory = _ => 3 }.AtLeast(1);
        var small = new Option<int>("--small-batch") { Description = "Baseline batch (also the ghost batch and the lr base)", DefaultValueFactory = _ => 128 }.AtLeast(1);
        var large = new Option<int>("--large-batch") { Description = "Large batch of rows 2-5 (a multiple of --small-batch)", DefaultValueFactory = _ => 2048 }.AtLeast(1);
        var width = new Option<int>("--width") { Description = "CNN width", DefaultValueFactory = _ => 16 }.AtLeast(1);
        var lr = new Option<double>("--lr") { Description = "Baseline learning rate (x0.1 at 2/3 of training)", DefaultValueFactory = _ => 0.05 }.Above(0.0);
        var copies = new Option<int>("--copies") { Description = "Batch augmentation M of row 6", DefaultValueFactory = _ => 4 }.AtLeast(1);
        var seeds = new Option<int>("--seeds") { Description = "Seeds per row (1, 2, ...)", DefaultValueFactory = _ => 2 }.AtLeast(1);
        var rows = new Option<string>("--rows") { Description = "Rows to run, e.g. 1,2,5", DefaultValueFactory = _ => "1,2,3,4,5,6" };
        rows.Validators.Add(result =>
        {
            var text = result.GetValueOrDefault<string>();
            if (ParseRows(text) is null)
                result.AddError($"--rows: must be row numbers 1..{RowCount} separated by commas (e.g. 1,2,5), got '{text}'");
        });
        var record = new Option<string?>("--record") { Description = "Also write the table as Markdown to this file" };
        var command = new Command("large-batch", "Reproduce the large-batch ladder (Hoffer et al. 2017, Hoffer et al. 2020) on Fashion-MNIST")
            { root, subset, epochs, small, large, width, lr, copies, seeds, rows, record };
        command.SetAction(parse => CommandGuard.Run(() =>
        {
            var settings = new LadderSettings(parse.GetValue(root)!, parse.GetValue(subset), parse.GetValue(epochs), parse.GetValue(small),
                parse.GetValue(large), parse.GetValue(width), parse.GetValue(lr), parse.GetValue(copies),
                Enumerable.Range(1, parse.GetValue(seeds)).Select(i => (long)i).ToList());
            // Rows 4 and 5 split the large batch into ghost batches of the small one.
            if (settings.LargeBatch % settings.SmallBatch != 0)
                throw new UserFacingException($"--large-batch: must be a multiple of --small-batch ({settings.SmallBatch}), got {settings.LargeBatch}");
            var selected = ParseRows(parse.GetValue(rows)!)!;
            return Execute(settings, selected, parse.GetValue(record), args: string.Join(" ", parse.Tokens.Where(t => t.Type != System.CommandLine.Parsing.TokenType.Command).Select(t => t.Value)));
        }));
        return command;
    }

    /// <summary>The row numbers in <paramref name="text"/> ("1,2,5"); null unless it names at least one row and only rows that exist.</summary>
    private static HashSet<int>? ParseRows(string? text)
    {
        var items = (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var rows = new HashSet<int>();
        foreach (var item in items)
        {
            if (!int.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out var row) || row is < 1 or > RowCount) return null;
            rows.Add(row);
        }
        return rows.Count > 0 ? rows : null;
    }

    private static int Execute(LadderSettings settings, IReadOnlySet<int> selected, string? record, string args)
    {
        int threads = ThreadBudget.Apply(0);
        var ladder = new LargeBatchLadder(settings);
        var data = DatasetRegistry.Load(ladder.Baseline(1).Data, 1);
        int stepsPerEpoch = (data.Train.Count + settings.SmallBatch - 1) / settings.SmallBatch;
        int evaluateEvery = Math.Max(1, stepsPerEpoch / 4);
        AnsiConsole.MarkupLineInterpolated($"Fashion-MNIST {data.Train.Count} train / {data.Test.Count} test, cnn w{settings.Width}, crop 2 + flip, {settings.Epochs} epochs, lr {settings.Lr} (x0.1 at 2/3), {threads} threads, seeds {string.Join(",", settings.Seeds)}");

        var runs = new List<LadderRun>();
        foreach (var row in ladder.Rows.Where(r => selected.Contains(r.Number)))
            foreach (var seed in settings.Seeds)
            {
                // Rows 1 and 6 evaluate 4x per epoch for the updates-to-accuracy comparison.
                var run = ladder.Run(row, seed, data, row.Number is 1 or 6 ? evaluateEvery : 0);
                runs.Add(run);
                AnsiConsole.MarkupLineInterpolated($"row {row.Number} seed {seed}: test accuracy {run.TestAccuracy:P2}, {run.Updates} updates, {run.WallSeconds:F0} s");
            }

        AccuracyRecord.Show(Table(ladder, runs, settings), record, "Large-batch ladder on Fashion-MNIST", $"large-batch {args}",
            $"{data.Train.Count} training samples, full 10,000-sample test set, cnn width {settings.Width}, augmentation crop 2 + flip, "
            + $"SGD momentum 0.9, weight decay 5e-4, lr {settings.Lr.ToString(CultureInfo.InvariantCulture)} dropped x0.1 at 2/3 of training, {settings.Epochs} epochs, "
            + $"{threads} torch threads, CPU, {DateTime.UtcNow:yyyy-MM-dd}.");
        return 0;
    }

    private static string Table(LargeBatchLadder ladder, IReadOnlyList<LadderRun> runs, LadderSettings settings)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| row | setting | test accuracy (mean) | per seed | spread | updates | wall s (mean) | paper, ResNet-44 CIFAR-10 |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var row in ladder.Rows)
        {
            var mine = runs.Where(r => r.Row == row.Number).ToList();
            if (mine.Count == 0) continue;
            var accuracies = mine.Select(r => r.TestAccuracy).ToList();
            sb.AppendLine($"| {row.Number} | {row.Name} | {accuracies.Average():P2} | {string.Join(" / ", accuracies.Select(a => a.ToString("P2", CultureInfo.InvariantCulture)))} | "
                + $"{(accuracies.Max() - accuracies.Min()) * 100:F2} pt | {mine[0].Updates} | {mine.Average(r => r.WallSeconds):F0} | {row.PaperResult} |");
        }
        var baseline = runs.Where(r => r.Row == 1).ToList();
        var augmented = runs.Where(r => r.Row == 6).ToList();
        if (baseline.Count > 0 && augmented.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("Updates to reach row 1's final accuracy (evaluated 4x per epoch), per seed:");
            sb.AppendLine();
            foreach (var seed in settings.Seeds)
            {
                var target = baseline.FirstOrDefault(r => r.Seed == seed);
                var m = augmented.FirstOrDefault(r => r.Seed == seed);
                if (target is null || m is null) continue;
                var own = LargeBatchLadder.UpdatesToReach(target.Curve, target.TestAccuracy);
                var withCopies = LargeBatchLadder.UpdatesToReach(m.Curve, target.TestAccuracy);
                sb.AppendLine($"- seed {seed}: target {target.TestAccuracy:P2}; row 1 reaches it after {own} updates, row 6 after "
                    + (withCopies is null ? $"(never; final {m.TestAccuracy:P2})" : $"{withCopies} updates"));
            }
        }
        return sb.ToString();
    }
}
