using System.Text.Json;
using Orchestrator.Trainer.Telemetry;

namespace Orchestrator.Tests.Observability;

public sealed class JsonFormatTests
{
    [Fact]
    public void Non_finite_numbers_are_written_as_strings_and_read_back()
    {
        var record = new StepRecord(3, 0, 0.1, 0.9, double.NaN, 0.5, 128, 0.2, 1.0, CompressionRatio: double.PositiveInfinity);
        var json = JsonSerializer.Serialize(record, JsonFormat.Lines);
        Assert.Contains("\"loss\":\"NaN\"", json);
        Assert.Contains("\"compression_ratio\":\"Infinity\"", json);
        Assert.Contains("\"lr\":0.1", json); // finite numbers stay numbers
        var back = JsonSerializer.Deserialize<StepRecord>(json, JsonFormat.Lines)!;
        Assert.True(double.IsNaN(back.Loss));
        Assert.Equal(double.PositiveInfinity, back.CompressionRatio);
        using var parsed = JsonDocument.Parse(json); // still valid JSON for any reader
        Assert.Equal("NaN", parsed.RootElement.GetProperty("loss").GetString());
    }

    [Fact]
    public void Metrics_log_and_summary_survive_a_nan_evaluation()
    {
        using var directory = new TempDirectory();
        var path = directory.File("metrics.jsonl");
        using (var log = new MetricsLog(path, 0))
        {
            log.Write(new StepRecord(1, 0, 0.1, 0.9, 2.3, 0.1, 128, 0.2, 0.2));
            log.Write(new EvalRecord(1, 0, double.NegativeInfinity, double.NaN));
        }
        var (steps, evaluations) = MetricsLog.Read(path);
        Assert.Single(steps);
        Assert.Equal(double.NegativeInfinity, evaluations[0].TestLoss);
        Assert.True(double.IsNaN(evaluations[0].TestAccuracy));

        var summary = JsonSerializer.Serialize(new RunSummary("x", 1, 1, 1, double.NaN, double.NaN, 0, 0, 1, "cpu", 1, 10, 100, 10, 0, 1, "none", "none", 0, 0, 1),
            JsonFormat.Indented);
        Assert.Contains("\"test_accuracy\": \"NaN\"", summary);
    }
}
