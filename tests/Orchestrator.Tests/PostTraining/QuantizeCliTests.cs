using System.Text.Json;
using Orchestrator.Spec;
using Orchestrator.Tests.Cli;
using Orchestrator.Trainer.Inference;
using Orchestrator.Trainer.PostTraining;
using Orchestrator.Trainer.PostTraining.Quantization;
using Orchestrator.Trainer.Training;
using static TorchSharp.torch;

namespace Orchestrator.Tests.PostTraining;

/// <summary>A tiny CNN with batch norm trained once by the real CLI on the generated dataset, for the quantize tests.</summary>
public sealed class TrainedCnnFixture() : TrainedRunFixture("""
    name: ptq-test
    device: cpu
    data: {dataset: synthetic}
    model: {kind: cnn, width: 4, norm: batch}
    training: {epochs: 2, global_batch: 64, threads: 1}
    checkpoint: {every_steps: 0, keep: 1}

    """);

/// <summary>
/// <c>orchestrator quantize</c> end to end on a trained run: the mixed plan respects the budget, the written model
/// re-evaluated by the training Evaluator reproduces the report's accuracy, <c>bench inference</c> loads it, and bad
/// input is a clear error with nothing written.
/// </summary>
public sealed class QuantizeCliTests(TrainedCnnFixture trained) : IClassFixture<TrainedCnnFixture>
{
    private static CliResult Quantize(params string[] args) =>
        CliRunner.Run(Path.GetTempPath(), ["quantize", .. args, "--threads", "1"], TimeSpan.FromMinutes(4));

    [Fact]
    public void Mixed_plan_fits_the_budget_and_the_written_model_reproduces_the_reported_accuracy()
    {
        var output = trained.Scratch("mixed");
        var result = Quantize(trained.RunDirectory, "--bits", "mixed", "--budget", "0.2", "--samples", "60", "--iterations", "40", "--out", output);

        CliAssert.Success(result, "MSE AdaQuant", "bias tuning", "quantized weights");
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, QuantizedModelDirectory.ReportFile)));
        var root = json.RootElement;
        var layers = root.GetProperty("layers").EnumerateArray().ToList();
        Assert.Equal(4, layers.Count); // conv1, conv2, fc1, classifier
        long bits = layers.Sum(l => l.GetProperty("weights").GetInt64() * l.GetProperty("weight_bits").GetInt32());
        long weights = layers.Sum(l => l.GetProperty("weights").GetInt64());
        Assert.All(layers, l => Assert.Contains(l.GetProperty("weight_bits").GetInt32(), new[] { 4, 8 }));
        Assert.True(bits <= root.GetProperty("budget_weight_bits").GetInt64());
        Assert.Equal((long)Math.Floor(0.2 * 32 * weights), root.GetProperty("budget_weight_bits").GetInt64());
        // Each layer rounds its bytes up: at most one byte per layer above the exact total.
        long weightBytes = root.GetProperty("size").GetProperty("weight_bytes").GetInt64();
        Assert.InRange(weightBytes, bits / 8, bits / 8 + layers.Count);
        Assert.All(layers, l => Assert.True(l.GetProperty("mse_adaquant").GetDouble() >= 0 && l.GetProperty("loss_increase").GetProperty("w4").GetDouble() >= 0));
        Assert.Equal(["fp32", "rounding", "adaquant", "bn re-estimation", "bias tuning"],
            root.GetProperty("stages").EnumerateArray().Select(s => s.GetProperty("stage").GetString()));
        Assert.Equal(60, root.GetProperty("calibration_samples").GetInt32());
        Assert.Equal(12, root.GetProperty("held_out_samples").GetInt32());

        // The written model, loaded as bench inference loads it and evaluated by the training Evaluator: the report's figure.
        using (var model = TrainedModel.Load(output, CPU, _ => { }))
        {
            var (_, accuracy) = Evaluator.Evaluate(model.Model, model.Test);
            Assert.Equal(root.GetProperty("test_accuracy").GetDouble(), accuracy, 9);
            Assert.Equal(root.GetProperty("test_accuracy").GetDouble(), model.ReportedTestAccuracy!.Value, 9);
            // The stored weights are quantized: each output channel holds at most 2^bits values.
            var quantizable = QuantizableLayer.Of(model.Model);
            foreach (var (layer, report) in quantizable.Zip(layers))
            {
                Assert.Equal(report.GetProperty("layer").GetString(), layer.Name);
                long levels = 1L << report.GetProperty("weight_bits").GetInt32();
                for (long c = 0; c < layer.OutputChannels; c++)
                    Assert.True(layer.Weight[c].unique().Item1.numel() <= levels, $"{layer.Name} channel {c}");
            }
        }

        var bench = CliRunner.Run(Path.GetTempPath(), ["bench", "inference", output, "--scenario", "offline", "--mode", "accuracy", "--out", trained.Scratch("bench")],
            TimeSpan.FromMinutes(3));
        CliAssert.Success(bench, "accuracy (test set)");
        using var benchJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(trained.Scratch("bench"), "result.json")));
        Assert.Equal(root.GetProperty("test_accuracy").GetDouble(), benchJson.RootElement.GetProperty("accuracy").GetDouble(), 6);
    }

    [Fact]
    public void Eight_bit_weights_and_inputs_stay_within_a_point_of_fp32_and_the_default_output_is_inside_the_run()
    {
        var result = Quantize(trained.RunDirectory, "--bits", "8", "--samples", "40", "--iterations", "20");

        CliAssert.Success(result);
        var output = Path.Combine(trained.RunDirectory, "quantized", "w8a8-real");
        try
        {
            using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, QuantizedModelDirectory.ReportFile)));
            var root = json.RootElement;
            Assert.All(root.GetProperty("layers").EnumerateArray(), l => Assert.Equal(8, l.GetProperty("weight_bits").GetInt32()));
            Assert.True(Math.Abs(root.GetProperty("test_accuracy").GetDouble() - root.GetProperty("fp32_test_accuracy").GetDouble()) <= 0.01, result.Output);
            Assert.Equal(0.25, root.GetProperty("size").GetProperty("weight_fraction").GetDouble(), 3);
        }
        finally
        {
            Directory.Delete(Path.Combine(trained.RunDirectory, "quantized"), recursive: true);
        }
    }

    [Fact]
    public void Synthetic_calibration_quantizes_from_the_model_alone_and_reports_how_close_the_statistics_came()
    {
        var output = trained.Scratch("w8-synthetic");
        var result = Quantize(trained.RunDirectory, "--bits", "8", "--calibration", "synthetic", "--samples", "16", "--iterations", "5", "--out", output);

        CliAssert.Success(result);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, QuantizedModelDirectory.ReportFile)));
        var root = json.RootElement;
        Assert.Equal("synthetic", root.GetProperty("calibration").GetString());
        Assert.Equal(4, root.GetProperty("layers").GetArrayLength());
        var calibration = root.GetProperty("calibration_report");
        Assert.True(calibration.GetProperty("loss_after").GetDouble() < calibration.GetProperty("loss_before").GetDouble(), calibration.ToString());
        Assert.True(File.Exists(Path.Combine(output, calibration.GetProperty("picture").GetString()!)), string.Join(", ", Directory.EnumerateFiles(output).Select(Path.GetFileName)));
    }

    [Fact]
    public void Bad_input_is_a_clear_error_and_nothing_is_written()
    {
        using var empty = new TempDirectory();
        File.Copy(Path.Combine(trained.RunDirectory, RunLayout.SpecFile), empty.File(RunLayout.SpecFile));
        CliAssert.UserError(Quantize(empty.Path), $"{empty.Path}: no checkpoint in");
        Assert.Equal([RunLayout.SpecFile], Directory.EnumerateFileSystemEntries(empty.Path).Select(Path.GetFileName));

        var output = trained.Scratch("never");
        CliAssert.UserError(Quantize(trained.RunDirectory, "--calibration", "imagenet", "--out", output), "--calibration: unknown source 'imagenet'; expected one of real, synthetic");
        CliAssert.UserError(Quantize(trained.RunDirectory, "--samples", "0", "--out", output), "--samples: expected at least 1 calibration sample, got 0");
        CliAssert.UserError(Quantize(trained.RunDirectory, "--bits", "mixed", "--budget", "1.5", "--out", output), "--budget: expected a fraction of the fp32 weight size in (0, 1], got 1.5");
        CliAssert.UserError(Quantize(trained.RunDirectory, "--samples", "100000", "--out", output), "--samples: 100000 calibration samples asked for");
        Assert.False(Directory.Exists(output));
        Assert.Empty(Directory.EnumerateDirectories(Path.GetDirectoryName(output)!, "never*"));
        Assert.False(Directory.Exists(Path.Combine(trained.RunDirectory, "quantized")));
    }
}
