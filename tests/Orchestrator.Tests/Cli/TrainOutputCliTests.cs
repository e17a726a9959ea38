using System.Text.Json;
using System.Text.RegularExpressions;

namespace Orchestrator.Tests.Cli;

/// <summary>A good run: exit code 0 and every output file in the run directory.</summary>
public sealed partial class TrainOutputCliTests
{
    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    [Fact]
    public void Tiny_synthetic_run_writes_metrics_summary_plots_spec_and_checkpoints()
    {
        using var dir = new TempDirectory();
        var spec = CliSpecs.Write(dir, CliSpecs.Synthetic());
        var run = dir.File("run");

        var result = CliRunner.Train(dir.Path, spec, "--out", run);

        CliAssert.Success(result, "finished", run);

        var lines = File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
        var step = lines.First(l => l.TryGetProperty("loss", out _));
        foreach (var key in new[] { "step", "epoch", "lr", "loss", "samples", "seconds" })
            Assert.True(step.TryGetProperty(key, out _), $"step record lacks {key}: {step}");
        var eval = Assert.Single(lines, l => l.TryGetProperty("test_loss", out _));
        Assert.True(eval.TryGetProperty("test_accuracy", out _), $"eval record lacks test_accuracy: {eval}");
        Assert.Equal(32, lines.Count(l => l.TryGetProperty("loss", out _))); // 2048 samples / 64 per step

        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "summary.json")));
        foreach (var key in new[] { "steps", "epochs", "test_accuracy", "test_loss", "samples_per_second", "wall_seconds", "device" })
            Assert.True(summary.RootElement.TryGetProperty(key, out _), $"summary.json lacks {key}");
        Assert.Equal(32, summary.RootElement.GetProperty("steps").GetInt64());
        Assert.Equal(1, summary.RootElement.GetProperty("epochs").GetInt32());
        Assert.Equal("cpu", summary.RootElement.GetProperty("device").GetString());

        foreach (var plot in new[] { "loss.png", "accuracy.png", "throughput.png", "step-time.png" })
        {
            var bytes = File.ReadAllBytes(Path.Combine(run, plot));
            Assert.True(bytes.AsSpan().StartsWith(PngSignature), $"{plot} is not a PNG");
        }

        var written = File.ReadAllText(Path.Combine(run, "spec.yaml"));
        Assert.Contains("name: cli-test", written, StringComparison.Ordinal);
        Assert.Contains("kind: mlp", written, StringComparison.Ordinal);
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(run, "checkpoints"), "ckpt-*.bin"));
    }

    [Fact]
    public void Redirected_progress_lines_show_epoch_step_loss_accuracy_throughput_and_eta()
    {
        using var dir = new TempDirectory();
        var spec = CliSpecs.Write(dir, CliSpecs.Synthetic());

        var result = CliRunner.Train(dir.Path, spec, "--out", dir.File("run")); // output redirected: plain lines, no bar

        CliAssert.Success(result, "finished");
        var lines = ProgressLine().Matches(result.Output);
        Assert.True(lines.Count >= 2, $"expected periodic progress lines with an ETA, got:\n{result}");
        // 2048 samples / 64 per step = 32 steps; after the last one nothing is left.
        Assert.All(lines, line => Assert.Equal("32", line.Groups["total"].Value));
        var last = lines[^1];
        Assert.Equal("32", last.Groups["step"].Value);
        Assert.Equal("0:00", last.Groups["eta"].Value);
    }

    [GeneratedRegex(@"^epoch 1/1 step (?<step>\d+)/(?<total>\d+) loss \d+\.\d{4} acc [\d.]+ ?% [\d,]+ samples/s ETA (?<eta>\d+:\d\d(:\d\d)?)$", RegexOptions.Multiline)]
    private static partial Regex ProgressLine();
}
