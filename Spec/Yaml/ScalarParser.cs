using System.Globalization;
using System.Numerics;

namespace Orchestrator.Spec;

/// <summary>Converts a YAML scalar's text to a typed value.</summary>
/// <param name="Expected">Completes "expected …" in a type error, e.g. <c>an integer</c>.</param>
/// <param name="TryParse">Returns false when the text is not a <typeparamref name="T"/>.</param>
/// <param name="Explain">
/// For text <paramref name="TryParse"/> refused, a more precise message than "expected …" when there is one
/// (a number too large for the field's type); null otherwise.
/// </param>
internal sealed record ScalarParser<T>(string Expected, ScalarParser<T>.Parse TryParse, Func<string, string?>? Explain = null)
{
    public delegate bool Parse(string text, out T value);
}

/// <summary>The scalar types the spec uses. YAML 1.2 core-schema spellings; culture-invariant.</summary>
internal static class ScalarParsers
{
    public static ScalarParser<int> Int32 { get; } = new("an integer", (string text, out int value) =>
        int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value),
        text => IntegerOutOfRange(text, int.MinValue, int.MaxValue));

    public static ScalarParser<long> Int64 { get; } = new("an integer", (string text, out long value) =>
        long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value),
        text => IntegerOutOfRange(text, long.MinValue, long.MaxValue));

    public static ScalarParser<double> Double { get; } = new("a number", (string text, out double value) =>
        // NumberStyles.Float would also accept "NaN" and "Infinity"; no spec field wants them.
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value),
        // "1e999" parses as infinity: written with digits, it is a number too large rather than not a number.
        text => text.Any(char.IsAsciiDigit) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsInfinity(value)
            ? OutOfRange(text, value > 0, (value > 0 ? double.MaxValue : double.MinValue).ToString("G3", CultureInfo.InvariantCulture))
            : null);

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

    /// <summary>
    /// "out of range" for a well-formed integer outside [<paramref name="min"/>, <paramref name="max"/>] (the field's
    /// type), so <c>epochs: 99999999999999</c> is not reported as "expected an integer"; null for anything else.
    /// </summary>
    private static string? IntegerOutOfRange(string text, long min, long max)
    {
        if (!BigInteger.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
            return null;
        if (value > max)
            return OutOfRange(text, tooLarge: true, max.ToString(CultureInfo.InvariantCulture));
        if (value < min)
            return OutOfRange(text, tooLarge: false, min.ToString(CultureInfo.InvariantCulture));
        return null;
    }

    private static string OutOfRange(string text, bool tooLarge, string limit) =>
        $"{SpecText.Shorten(text)} is out of range: this field holds at {(tooLarge ? "most" : "least")} {limit}";
}
