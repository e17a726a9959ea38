using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Orchestrator.Silos.Commands;
using Orchestrator.Silos.Terminal;
using Orchestrator.Spec;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Devices;
using Orchestrator.Trainer.Inference;
using Orchestrator.Trainer.PostTraining.Calibration;
using Orchestrator.Trainer.Telemetry;
using Spectre.Console;
using static TorchSharp.torch;

namespace Orchestrator.Bench.Commands;

/// <summary>
/// <c>orchestrator bench synthetic-calibration MODEL</c>: data-free calibration (<see cref="SyntheticCalibration"/>) of a
/// trained model: how long synthesising the images takes and how close they bring every norm layer's batch statistics to
/// its running statistics, next to the gap that the run's real test images reach in batches of the same size.
/// </summary>
public static class SyntheticCalibrationBenchCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("MODEL") { Description = "A run directory the trainer wrote (spec.yaml and checkpoints/)" };
        var images = new Option<int>("--images") { Description = "Synthetic images to generate", DefaultValueFactory = _ => 512 }.AtLeast(1);
        var defaults = new SyntheticCalibrationOptions();
        var steps = new Option<int>("--steps") { Description = "Adam steps per batch", DefaultValueFactory = _ => defaults.Steps }.AtLeast(1);
        var batch = new Option<int>("--batch") { Description = "Images optimised together", DefaultValueFactory = _ => defaults.BatchSize }.AtLeast(2);
        var lr = new Option<double>("--lr") { Description = "Adam's learning rate on the pixels", DefaultValueFactory = _ => defaults.LearningRate }.Above(0.0);
        var seed = new Option<int>("--seed") { Description = "Seed of the starting noise", DefaultValueFactory = _ => 1 };
        var threads = new Option<int>("--threads") { Description = "Torch threads (0 = all cores)", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var output = new Option<string?>("--out") { Description = "Output directory (default MODEL/synthetic-calibration)" };
        var command = new Command("synthetic-calibration", "Data-free calibration of a trained model: time, BN statistics gap before/after vs real test images; report.json and PNGs")
            { model, images, steps, batch, lr, seed, threads, output };
        command.SetAction(parse => CommandGuard.Run(() =>
        {
            int threadCount = ThreadBudget.Apply(parse.GetValue(threads));
            var run = parse.GetValue(model)!;
            var outDir = parse.GetValue(output) ?? Path.Combine(run, "synthetic-calibration");
            using var trained = TrainedModel.Load(run, CPU, note => AnsiConsole.MarkupLineInterpolated($"[yellow]{note}[/]"));
            Directory.CreateDirectory(outDir);
            var pixelStats = ChannelStats.Of(trained.Spec.Data.Dataset);
            var options = SyntheticCalibrationOptions.For(trained.Test, pixelStats) with
            {
                Steps = parse.GetValue(steps), BatchSize = parse.GetValue(batch), LearningRate = parse.GetValue(lr),
            };
            int count = parse.GetValue(images);
            string F(double v) => v.ToString("G4", CultureInfo.InvariantCulture);
            AnsiConsole.MarkupLineInterpolated($"{run} (step {trained.Step}): {count} synthetic images, batches of {options.BatchSize}, {options.Steps} Adam steps at lr {F(options.LearningRate)}, {threadCount} thread(s)");

            int lastTenth = -1;
            using var inputs = new SyntheticCalibration(options).Create(trained.Model, count, parse.GetValue(seed), outDir, done =>
            {
                int tenth = (int)(done * 10);
                if (tenth > lastTenth) AnsiConsole.MarkupLineInterpolated($"  {tenth * 10}%");
                lastTenth = tenth;
            });
            var report = inputs.Report!;
            int realCount = Math.Min(count, trained.Test.Count);
            using var real = trained.Test.Images.narrow(0, 0, realCount);
            var realGap = StatisticsGap.Measure(trained.Model, real, options.BatchSize);
            report["real_test_images"] = realGap;
            ImageGrid.WritePng(Path.Combine(outDir, "real-test-images.png"), real.narrow(0, 0, Math.Min(options.GridImages, realCount)), pixelStats);
            File.WriteAllText(Path.Combine(outDir, "report.json"), report.ToJsonString(JsonFormat.Indented));

            double seconds = report["seconds"]!.GetValue<double>();
            AnsiConsole.MarkupLineInterpolated($"time {F(seconds)} s ({F(count / seconds)} images/s)");
            AnsiConsole.MarkupLineInterpolated($"loss (sum over {report["layers"]!.AsArray().Count} norm layers of mean + std gaps, per batch): noise {F(Value(report["loss_before"]))} -> synthetic {F(Value(report["loss_after"]))}; real test images {F(Value(realGap["loss"]))}");
            var table = new Table().AddColumns("layer", "channels", "mean gap noise", "synthetic", "real", "std gap noise", "synthetic", "real");
            var realLayers = realGap["layers"]!.AsArray();
            foreach (var (layer, r) in report["layers"]!.AsArray().Zip(realLayers))
            {
                table.AddRow(layer!["name"]!.GetValue<string>(), layer["channels"]!.ToJsonString(),
                    F(Value(layer["mean_gap_before"])), F(Value(layer["mean_gap_after"])), F(Value(r!["mean_gap"])),
                    F(Value(layer["std_gap_before"])), F(Value(layer["std_gap_after"])), F(Value(r["std_gap"])));
            }
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"wrote {outDir}/report.json, {SyntheticCalibration.PictureFile}, real-test-images.png");
            return 0;
        }));
        return command;
    }

    private static double Value(JsonNode? node) => node is JsonValue v && v.TryGetValue(out double d) ? d : double.NaN;
}
