using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Orchestrator.Trainer.Telemetry;

/// <summary>
/// The JSON conventions of every file a run writes: snake_case keys, readable text ("2:4 mvue+int8", not \u002B),
/// and non-finite numbers as the strings <c>"NaN"</c>, <c>"Infinity"</c> and <c>"-Infinity"</c>.
/// </summary>
/// <remarks>
/// JSON has no NaN or infinity, and a diverged loss or a run that never evaluated (test accuracy NaN) must not
/// crash the run that writes them. Strings rather than null keep the value (NaN and infinity mean different
/// things), read back into a double with these options, and parse in every JSON reader (Python's
/// <c>float("NaN")</c> takes them too); finite numbers are written exactly as before.
/// </remarks>
public static class JsonFormat
{
    public static readonly JsonSerializerOptions Lines = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static readonly JsonSerializerOptions Indented = new(Lines) { WriteIndented = true };
}
