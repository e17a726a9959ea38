namespace Orchestrator.Spec;

/// <summary>User text as error messages echo it: short enough that a megabyte-long value cannot flood the terminal.</summary>
public static class SpecText
{
    /// <summary>Characters of a long value an error message shows.</summary>
    public const int EchoChars = 60;

    /// <summary>
    /// <paramref name="text"/> itself when it is at most <see cref="EchoChars"/> characters (plus a little slack, so a
    /// shortened form is always shorter), else its first <see cref="EchoChars"/> characters and <c>... (N chars)</c>.
    /// </summary>
    public static string Shorten(string text)
    {
        if (text.Length <= EchoChars + 20)
            return text;
        var keep = char.IsHighSurrogate(text[EchoChars - 1]) ? EchoChars - 1 : EchoChars;
        return $"{text[..keep]}... ({text.Length} chars)";
    }

    /// <summary><see cref="Shorten"/> in single quotes, as messages quote values: <c>'abc'</c>.</summary>
    public static string Quote(string text) => $"'{Shorten(text)}'";
}
