namespace Orchestrator.Spec;

/// <summary>One problem found in a job spec, located so the user can jump straight to it.</summary>
/// <param name="Path">Dotted field path (<c>training.optimizer.lr</c>); <c>--set</c> for a malformed override;
/// empty for problems with the document as a whole.</param>
/// <param name="Message">What is wrong, phrased to follow the path (<c>must be &gt;= 1</c>).</param>
/// <param name="Line">1-based line in the spec file, or null when the value came from <c>--set</c> or is absent.</param>
public sealed record SpecError(string Path, string Message, int? Line)
{
    /// <summary>True when the offending value came from a <c>--set</c> override rather than the file.</summary>
    public bool FromOverride { get; init; }

    /// <summary>
    /// <c>path: message (line N)</c>, <c>path: message (--set)</c> or <c>path: message</c> when there is no location.
    /// </summary>
    public override string ToString()
    {
        var text = Path.Length == 0 ? Message : $"{Path}: {Message}";
        if (Line is int line)
            return $"{text} (line {line})";
        // Messages such as "unknown field (from --set)" already say where they came from.
        if (FromOverride && !Message.Contains("--set", StringComparison.Ordinal))
            return $"{text} (--set)";
        return text;
    }
}
