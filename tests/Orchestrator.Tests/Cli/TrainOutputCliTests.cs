using System.Text.Json;

namespace Orchestrator.Tests.Cli;

/// <summary>A good run: exit code 0 and every output file in the run directory.</summary>
public sealed class TrainOutputCliTests
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
}
