using System.Globalization;

namespace Orchestrator.Contracts.Spec;

/// <summary>Converts a YAML scalar's text to a typed value.</summary>
/// <param name="Expected">Completes "expected …" in a type error, e.g. <c>an integer</c>.</param>
/// <param name="TryParse">Returns false when the text is not a <typeparamref name="T"/>.</param>
internal sealed record ScalarParser<T>(string Expected, ScalarParser<T>.Parse TryParse)
{
    public delegate bool Parse(string text, out T value);
}

/// <summary>The scalar types the spec uses. YAML 1.2 core-schema spellings; culture-invariant.</summary>
internal static class ScalarParsers
{
    public static ScalarParser<int> Int32 { get; } = new("an integer", (string text, out int value) =>
        int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value));

    public static ScalarParser<long> Int64 { get; } = new("an integer", (string text, out long value) =>
        long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value));

    public static ScalarParser<double> Double { get; } = new("a number", (string text, out double value) =>
        // NumberStyles.Float would also accept "NaN" and "Infinity"; no spec field wants them.
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value));

    public static ScalarParser<bool> Boolean { get; } = new("true or false", (string text, out bool value) =>
    {
        // Only YAML 1.2 booleans: yes/no/on/off are YAML 1.1 and surprise people (the "Norway problem").
        switch (text)
        {
            case "true" or "True" or "TRUE": value = true; return true;
            case "false" or "False" or "FALSE": value = false; return true;
            default: value = false; return false;
        }
    });

    public static ScalarParser<string> String { get; } = new("a string", (string text, out string value) =>
    {
        value = text;
        return true;
    });
}
