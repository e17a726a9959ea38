using System.Text.Json;
using System.Text.Json.Nodes;

namespace Orchestrator.Trainer.Telemetry;

/// <summary>
/// <c>metrics.jsonl</c>: one JSON object per step and per evaluation, appended and flushed as they
/// happen so a crash loses at most the line being written.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    private readonly StreamWriter writer;

    /// <summary>Opens the log; on resume, drops records newer than <paramref name="keepThroughStep"/>
    /// (they belong to steps that will be trained again).</summary>
    public MetricsLog(string path, long keepThroughStep)
    {
        var kept = keepThroughStep > 0 && File.Exists(path)
            ? File.ReadLines(path).Where(line => StepOf(line) is long s && s <= keepThroughStep).ToList()
            : [];
        writer = new StreamWriter(path, append: false) { AutoFlush = true };
        foreach (var line in kept) writer.WriteLine(line);
    }

    public void Write(StepRecord record) => writer.WriteLine(JsonSerializer.Serialize(record, JsonFormat.Lines));
    public void Write(EvalRecord record) => writer.WriteLine(JsonSerializer.Serialize(record, JsonFormat.Lines));

    /// <summary>Reads a run's log back (for plots and tests).</summary>
    public static (List<StepRecord> Steps, List<EvalRecord> Evaluations) Read(string path)
    {
        var steps = new List<StepRecord>();
        var evals = new List<EvalRecord>();
        foreach (var line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            if (line.Contains("\"test_accuracy\"", StringComparison.Ordinal))
                evals.Add(JsonSerializer.Deserialize<EvalRecord>(line, JsonFormat.Lines)!);
            else
                steps.Add(JsonSerializer.Deserialize<StepRecord>(line, JsonFormat.Lines)!);
        }
        return (steps, evals);
    }

    private static long? StepOf(string line)
    {
        try
        {
            return JsonNode.Parse(line)?["step"]?.GetValue<long>();
        }
        catch (JsonException)
        {
            return null; // a torn last line from a crash
        }
    }

    public void Dispose() => writer.Dispose();
}
