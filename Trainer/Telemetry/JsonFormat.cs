using System.Text.Json;

namespace Orchestrator.Trainer.Telemetry;

/// <summary>The JSON conventions of every file a run writes: snake_case keys.</summary>
public static class JsonFormat
{
    public static readonly JsonSerializerOptions Lines = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
    public static readonly JsonSerializerOptions Indented = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };
}
