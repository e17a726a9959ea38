namespace Orchestrator.Spec;

/// <summary>
/// RFC 1123 label rules, as Kubernetes applies them to object names. Job names become process,
/// file and pod names, so they must be valid in all of those places at once.
/// </summary>
public static class DnsLabel
{
    /// <summary>Longest allowed label.</summary>
    public const int MaxLength = 63;

    /// <summary>Human-readable statement of the rules, for error messages.</summary>
    public const string Rule =
        "lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters";

    /// <summary>True when <paramref name="value"/> is a non-empty DNS-1123 label.</summary>
    public static bool IsValid(string value)
    {
        if (value.Length is 0 or > MaxLength)
            return false;
        if (!IsAlnum(value[0]) || !IsAlnum(value[^1]))
            return false;
        foreach (var c in value)
        {
            if (!IsAlnum(c) && c != '-')
                return false;
        }
        return true;
    }

    // Deliberately ASCII only: char.IsLetterOrDigit would admit letters DNS rejects.
    private static bool IsAlnum(char c) => c is (>= 'a' and <= 'z') or (>= '0' and <= '9');
}
