using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;

namespace Orchestrator.Silos.Commands;

/// <summary>
/// Range checks for numeric options, as System.CommandLine validators: a value out of range is a parse error
/// (<c>--runs: must be &gt;= 1, got 0</c>), reported before the command runs, with exit code 2 like every
/// other mistake in the command line (see <see cref="Console.CommandLineInvoker"/>). Every command declares its
/// limits next to the option, so none needs its own copy of the check in its body.
/// </summary>
public static class OptionRange
{
    /// <summary>The value must be at least <paramref name="min"/> (and finite).</summary>
    public static Option<T> AtLeast<T>(this Option<T> option, T min) where T : struct, INumber<T>
    {
        Validate<T>(option, v => v >= min, $"must be >= {Format(min)}");
        return option;
    }

    /// <summary>
    /// The value must lie in [<paramref name="min"/>, <paramref name="max"/>]; <paramref name="allowed"/> words the
    /// range where it has a meaning (<c>0 (off) or a port 1..65535</c>).
    /// </summary>
    public static Option<T> Between<T>(this Option<T> option, T min, T max, string? allowed = null) where T : struct, INumber<T>
    {
        Validate<T>(option, v => v >= min && v <= max, $"must be {allowed ?? $"{Format(min)}..{Format(max)}"}");
        return option;
    }

    /// <summary>The value must be greater than <paramref name="bound"/> (and finite).</summary>
    public static Option<T> Above<T>(this Option<T> option, T bound) where T : struct, INumber<T>
    {
        Validate<T>(option, v => v > bound, $"must be > {Format(bound)}");
        return option;
    }

    /// <summary>When given, the value must be at least <paramref name="min"/> (and finite).</summary>
    public static Option<T?> AtLeast<T>(this Option<T?> option, T min) where T : struct, INumber<T>
    {
        Validate<T>(option, v => v >= min, $"must be >= {Format(min)}");
        return option;
    }

    /// <summary>When given, the value must lie in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static Option<T?> Between<T>(this Option<T?> option, T min, T max, string? allowed = null) where T : struct, INumber<T>
    {
        Validate<T>(option, v => v >= min && v <= max, $"must be {allowed ?? $"{Format(min)}..{Format(max)}"}");
        return option;
    }

    private static void Validate<T>(Option option, Func<T, bool> inRange, string rule) where T : struct, INumber<T>
    {
        ArgumentNullException.ThrowIfNull(option);
        option.Validators.Add(result =>
        {
            // Comparisons with NaN are false, so NaN fails every range; infinities are no one's intended value.
            if (TryGetTyped(result, out T value) && (!T.IsFinite(value) || !inRange(value)))
                result.AddError($"{option.Name}: {rule}, got {Format(value)}");
        });
    }

    /// <summary>
    /// The value the user typed. Defaults are the command's own and need no check; a token that is not a number
    /// already carries System.CommandLine's conversion error (and <see cref="OptionResult.GetValueOrDefault{T}"/>
    /// would throw on it), so both are skipped.
    /// </summary>
    private static bool TryGetTyped<T>(OptionResult result, out T value) where T : struct, INumber<T>
    {
        value = default;
        return result.Tokens.Count > 0 && T.TryParse(result.Tokens[^1].Value, CultureInfo.InvariantCulture, out value);
    }

    private static string Format<T>(T value) where T : struct, INumber<T> => value.ToString(null, CultureInfo.InvariantCulture);
}
