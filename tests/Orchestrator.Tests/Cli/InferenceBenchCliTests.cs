using System.Text.Json;
using Orchestrator.Spec;
using Orchestrator.Trainer.Inference;
using Orchestrator.Trainer.Inference.LoadGen;
using static TorchSharp.torch;

namespace Orchestrator.Tests.Cli;

/// <summary>A tiny model trained once by the real CLI, for the inference benchmark's tests (deleted afterwards).</summary>
public class TrainedRunFixture : IDisposable
{
    private readonly TempDirectory dir = new();

    public TrainedRunFixture() : this(CliSpecs.Synthetic("{every_steps: 0, keep: 1}"))
    {
    }

    /// <summary>Trains <paramref name="specYaml"/> into <see cref="RunDirectory"/>.</summary>
    protected TrainedRunFixture(string specYaml)
    {
        var spec = CliSpecs.Write(dir, specYaml);
        RunDirectory = dir.File("run");
        var result = CliRunner.Train(dir.Path, spec, "--out", RunDirectory);
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    public string RunDirectory { get; }

    public string Scratch(string name) => dir.File(name);

    public void Dispose()
    {
        dir.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary><c>bench inference</c> end to end (smoke settings, so seconds), and loading a run directory for it.</summary>
public sealed class InferenceBenchCliTests(TrainedRunFixture trained) : IClassFixture<TrainedRunFixture>
{
    private static CliResult Bench(params string[] args) =>
        CliRunner.Run(Path.GetTempPath(), ["bench", "inference", .. args], TimeSpan.FromMinutes(3));

    [Fact]
    public void Offline_smoke_run_is_labelled_valid_and_writes_result_plot_and_metrics()
    {
        var output = trained.Scratch("offline");
        var result = Bench(trained.RunDirectory, "--scenario", "offline", "--smoke", "--min-duration", "0.3", "--out", output);

        CliAssert.Success(result, "SMOKE", "VALID", "samples per second", "accuracy (test set)");
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "result.json")));
        var root = json.RootElement;
        Assert.Equal("smoke", root.GetProperty("settings").GetString());
        Assert.Equal("VALID", root.GetProperty("verdict").GetString());
        Assert.True(root.GetProperty("samples").GetInt64() >= 2048);
        // Accuracy mode ran the whole test set through the loaded checkpoint: the figure the training run reported.
        Assert.Equal(root.GetProperty("reported_test_accuracy").GetDouble(), root.GetProperty("accuracy").GetDouble(), 6);
        var metrics = File.ReadAllText(Path.Combine(output, "metrics.prom"));
        Assert.Contains("orchestrator_inference_query_latency_seconds_bucket{model=\"run\",scenario=\"offline\",settings=\"smoke\"", metrics);
        Assert.Contains("orchestrator_inference_valid{model=\"run\",scenario=\"offline\",settings=\"smoke\"} 1", metrics);
        Assert.True(new FileInfo(Path.Combine(output, "latency.png")).Length > 1000);
    }

    [Fact]
    public void A_server_bound_no_query_meets_is_reported_invalid_with_the_reason()
    {
        var output = trained.Scratch("server");
        var result = Bench(trained.RunDirectory, "--scenario", "server", "--smoke", "--qps", "100", "--latency-bound-ms", "0.001",
            "--min-queries", "50", "--min-duration", "0.3", "--mode", "performance", "--out", output);

        Assert.True(result.ExitCode == 1, result.ToString());
        CliAssert.Contains(result, "INVALID", "exceeds the bound 0.001 ms (0 of", "SMOKE");
        CliAssert.NoStackTrace(result);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "result.json")));
        Assert.Equal("INVALID", json.RootElement.GetProperty("verdict").GetString());
    }

    [Fact]
    public void A_run_directory_without_a_checkpoint_is_a_clear_error_and_writes_nothing()
    {
        using var empty = new TempDirectory();
        File.Copy(Path.Combine(trained.RunDirectory, RunLayout.SpecFile), empty.File(RunLayout.SpecFile));
        var result = Bench(empty.Path, "--scenario", "single-stream", "--smoke");

        CliAssert.UserError(result, $"{empty.Path}: no checkpoint in {Path.Combine(empty.Path, "checkpoints")}; train the model first");
        Assert.Equal([RunLayout.SpecFile], Directory.EnumerateFileSystemEntries(empty.Path).Select(Path.GetFileName));
        CliAssert.UserError(Bench(empty.File("nowhere"), "--scenario", "offline"), "no such run directory");
    }

    [Fact]
    public void Loading_picks_the_newest_valid_checkpoint_and_refuses_a_directory_that_is_not_a_run()
    {
        using var model = TrainedModel.Load(trained.RunDirectory, CPU, _ => { });
        Assert.EndsWith(".bin", model.CheckpointPath);
        Assert.False(model.Model.training);
        Assert.True(model.Step > 0);
        using var plain = new TempDirectory();
        var error = Assert.Throws<UserFacingException>(() => TrainedModel.Load(plain.Path, CPU, _ => { }));
        Assert.Contains("not a run directory the trainer wrote (spec.yaml is missing)", error.Message);
    }

    [Fact]
    public void Accuracy_mode_alone_reports_the_test_accuracy_and_no_verdict()
    {
        var output = trained.Scratch("accuracy");
        var result = Bench(trained.RunDirectory, "--scenario", "multi-stream", "--mode", "accuracy", "--out", output);

        CliAssert.Success(result, "accuracy (test set)");
        Assert.DoesNotContain("VALID", result.Output, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "result.json")));
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("verdict").ValueKind);
        Assert.Equal(json.RootElement.GetProperty("reported_test_accuracy").GetDouble(), json.RootElement.GetProperty("accuracy").GetDouble(), 6);
        Assert.False(File.Exists(Path.Combine(output, "latency.png"))); // no performance run, no latencies
    }

    [Fact]
    public void Single_stream_smoke_run_is_valid_and_reports_its_90th_percentile()
    {
        var output = trained.Scratch("single");
        var result = Bench(trained.RunDirectory, "--scenario", "single-stream", "--smoke", "--min-duration", "0.3", "--mode", "performance", "--out", output);

        CliAssert.Success(result, "VALID", "90th-percentile latency", "SMOKE");
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "result.json")));
        Assert.Equal(json.RootElement.GetProperty("percentile_latency_ms").GetDouble(), json.RootElement.GetProperty("metric_value").GetDouble());
        Assert.True(json.RootElement.GetProperty("queries").GetInt64() >= ScenarioSettings.Smoke(InferenceScenario.SingleStream).MinQueryCount);
    }
}
