using System.Text.Encodings.Web;
using System.Text.Json;

namespace Orchestrator.Trainer.Telemetry;

/// <summary>The JSON conventions of every file a run writes: snake_case keys, readable text ("2:4 mvue+int8", not \u002B).</summary>
public static class JsonFormat
{
    public static readonly JsonSerializerOptions Lines = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static readonly JsonSerializerOptions Indented = new(Lines) { WriteIndented = true };
}
