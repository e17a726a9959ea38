using System.CommandLine;
using System.Globalization;
using Orchestrator.Silos.Terminal;
using Orchestrator.Spec;
using Orchestrator.Trainer.Checkpointing;
using Orchestrator.Trainer.Data;
using Orchestrator.Trainer.Devices;
using Orchestrator.Trainer.Inference;
using Orchestrator.Trainer.Models;
using Orchestrator.Trainer.PostTraining;
using Orchestrator.Trainer.PostTraining.Calibration;
using Orchestrator.Trainer.PostTraining.Report;
using Spectre.Console;

namespace Orchestrator.Silos.Commands;

/// <summary>
/// <c>orchestrator quantize RUN_DIR [--bits 8|4|mixed] [--budget F] [--calibration real|synthetic] [--samples N]
/// [--iterations K] [--seed S] [--out DIR]</c>: post-training quantization of a run's newest valid checkpoint
/// (<see cref="PostTrainingQuantizer"/>); writes the quantized model and <c>report.json</c> (<see cref="QuantizedModelDirectory"/>)
/// and prints the report as tables. Bad options or runs: exit 2 naming the problem, nothing written.
/// </summary>
public static class QuantizeCommand
{
    /// <summary>Builds the <c>quantize</c> command.</summary>
    public static Command Create()
    {
        var run = new Argument<string>("RUN_DIR") { Description = "A run directory the trainer wrote (spec.yaml and checkpoints/)" };
        var bits = new Option<string>("--bits") { Description = "Weight bits: 8 (W8A8), 4 (W4A8) or mixed (4 or 8 per layer under --budget)", DefaultValueFactory = _ => "8" };
        var budget = new Option<double?>("--budget") { Description = $"mixed: total weight bits as a fraction of fp32, in (0, 1] (default {QuantizeRequest.DefaultBudget})" };
        var calibration = new Option<string>("--calibration") { Description = $"Calibration inputs: {string.Join(" | ", CalibrationSources.Names)}", DefaultValueFactory = _ => "real" };
        var samples = new Option<int>("--samples") { Description = "Calibration samples (a fifth held out to judge each step)", DefaultValueFactory = _ => 500 };
        var iterations = new Option<int>("--iterations") { Description = "AdaQuant Adam iterations per layer and width", DefaultValueFactory = _ => 1000 };
        var seed = new Option<long>("--seed") { Description = "Seeds the calibration choice and AdaQuant's batches", DefaultValueFactory = _ => 1 };
        var threads = new Option<int>("--threads") { Description = "Torch threads (0 = all cores)", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var output = new Option<string?>("--out") { Description = "Output directory (default RUN_DIR/quantized/<w8a8|w4a8|mixedPCT>-<calibration>)" };
        var command = new Command("quantize", "Post-training quantization (AdaQuant, mixed-precision integer programming, BN re-estimation, bias tuning) of a trained run")
            { run, bits, budget, calibration, samples, iterations, seed, threads, output };
        command.SetAction(parse => CommandGuard.Run(() => Execute(parse.GetValue(run)!,
            QuantizeRequest.Options(parse.GetValue(bits)!, parse.GetValue(budget), parse.GetValue(samples), parse.GetValue(iterations), parse.GetValue(seed)),
            parse.GetValue(calibration)!, parse.GetValue(threads), parse.GetValue(output))));
        return command;
    }

    private static int Execute(string runDirectory, QuantizeOptions options, string calibrationName, int threads, string? output)
    {
        if (QuantizedModelDirectory.Is(runDirectory))
            throw new UserFacingException($"{runDirectory}: already a quantized model; give the run directory it came from");
        ThreadBudget.Apply(threads);
        var device = DeviceSelector.Select(DeviceKind.Cpu);
        using var trained = TrainedModel.Load(runDirectory, device, note => AnsiConsole.MarkupLineInterpolated($"[yellow]note:[/] {note}"));
        QuantizeRequest.CheckModel(trained.Spec);
        Trainer.Data.TensorDataset? train = null;
        try
        {
            var source = CalibrationSources.Create(calibrationName, () =>
            {
                var splits = DatasetRegistry.Load(trained.Spec.Data, trained.Spec.Training.Seed);
                splits.Test.Dispose();
                return train = splits.Train;
            }, SyntheticCalibrationOptions.For(trained.Test, ChannelStats.Of(trained.Spec.Data.Dataset)));
            string outDir = output ?? Path.Combine(runDirectory, "quantized", QuantizeRequest.Label(options, source.Name));
            AnsiConsole.MarkupLineInterpolated($"[grey]{runDirectory}: {trained.Spec.Model.Kind.SpecName()}, checkpoint step {trained.Step}; bits {options.Bits.Name()}, calibration {source.Name} ({options.Samples} samples), AdaQuant {options.AdaQuant.Iterations} iterations per layer[/]");
            var scratch = QuantizedModelDirectory.Scratch(outDir);
            try
            {
                var specPath = RunLayout.Spec(runDirectory);
                var input = new ModelInput(trained.Test.Channels, trained.Test.Height, trained.Test.Width, trained.Test.Classes);
                var outcome = QuantizeProgressView.Show(progress => PostTrainingQuantizer.Run(trained.Model, trained.Test, source, options, scratch, progress,
                    report => report with
                    {
                        RunDirectory = Path.GetFullPath(runDirectory),
                        Checkpoint = trained.CheckpointPath,
                        Step = trained.Step,
                        Model = $"{trained.Spec.Model.Kind.SpecName()} w{trained.Spec.Model.Width} {trained.Spec.Model.Norm.SpecName()}",
                    }));
                using (outcome.Hooks)
                {
                    var manifest = new QuantizedModelDirectory.Manifest(Path.GetFullPath(runDirectory), trained.CheckpointPath, trained.Step,
                        ModelFingerprint.Of(trained.Spec.Model, input), outcome.Plan);
                    QuantizedModelDirectory.Write(outDir, specPath, trained.Model, manifest, outcome.Report, scratch);
                }
                Print(outcome.Report, outDir);
                return 0;
            }
            finally
            {
                if (Directory.Exists(scratch)) Directory.Delete(scratch, recursive: true);
            }
        }
        finally
        {
            train?.Dispose();
        }
    }

    private static void Print(QuantizeReport r, string outDir)
    {
        static string G(double v) => v.ToString("G3", CultureInfo.InvariantCulture);
        var layers = new Table().Border(TableBorder.Rounded).Title("layers")
            .AddColumn("layer").AddColumn("kind").AddColumn(new TableColumn("weights").RightAligned()).AddColumn("W/A bits")
            .AddColumn(new TableColumn("MSE rounding").RightAligned()).AddColumn(new TableColumn("MSE AdaQuant").RightAligned()).AddColumn("kept");
        if (r.Bits == "mixed") layers.AddColumn("loss increase (w4 / w8)");
        foreach (var l in r.Layers)
        {
            var row = new List<string> { Markup.Escape(l.Layer), l.Kind, l.Weights.ToString("N0", CultureInfo.InvariantCulture), $"{l.WeightBits}/{l.ActivationBits}",
                G(l.MseRounding), G(l.MseAdaquant), l.Chosen };
            if (l.LossIncrease is { } costs) row.Add(string.Join(" / ", costs.OrderBy(c => c.Key.Length).ThenBy(c => c.Key).Select(c => G(c.Value))));
            layers.AddRow(row.ToArray());
        }
        AnsiConsole.Write(layers);

        var stages = new Table().Border(TableBorder.Rounded).Title("test accuracy (training Evaluator)")
            .AddColumn("stage").AddColumn(new TableColumn("accuracy").RightAligned()).AddColumn(new TableColumn("vs fp32").RightAligned()).AddColumn("note");
        foreach (var s in r.Stages)
        {
            double delta = (s.TestAccuracy - r.Fp32TestAccuracy) * 100;
            stages.AddRow(Markup.Escape(s.Stage), s.TestAccuracy.ToString("P2", CultureInfo.InvariantCulture),
                s.Stage == "fp32" ? "" : $"{delta.ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture)} pt", Markup.Escape(s.Note ?? (s.Kept ? "" : "reverted")));
        }
        AnsiConsole.Write(stages);

        var size = new Table().Border(TableBorder.Rounded).AddColumn("size").AddColumn(new TableColumn("bytes").RightAligned()).AddColumn(new TableColumn("of fp32").RightAligned());
        size.AddRow("quantized weights", r.Size.WeightBytes.ToString("N0", CultureInfo.InvariantCulture), r.Size.WeightFraction.ToString("P1", CultureInfo.InvariantCulture));
        size.AddRow("whole model (other parameters and ranges in fp32)", r.Size.ModelBytes.ToString("N0", CultureInfo.InvariantCulture), r.Size.ModelFraction.ToString("P1", CultureInfo.InvariantCulture));
        AnsiConsole.Write(size);
        AnsiConsole.MarkupLineInterpolated($"test accuracy [bold]{r.TestAccuracy:P2}[/] (fp32 {r.Fp32TestAccuracy:P2}); simulated quantization, no speed-up claimed");
        AnsiConsole.MarkupLineInterpolated($"written: {outDir} ({QuantizedModelDirectory.ModelFile}, {QuantizedModelDirectory.QuantizationFile}, {QuantizedModelDirectory.ReportFile}); benchmark it with ./orchestrator bench inference {outDir} --scenario offline");
    }
}
