using System.Text;

namespace Orchestrator.Spec;

/// <summary>
/// A job spec that cannot be used. Carries every problem found, so the user fixes them in one pass
/// instead of one per run.
/// </summary>
public sealed class SpecException : UserFacingException
{
    /// <summary>Creates the exception for <paramref name="sourceName"/> with at least one error.</summary>
    public SpecException(string sourceName, IReadOnlyList<SpecError> errors)
        : base(Format(sourceName, errors))
    {
        SourceName = sourceName;
        Errors = errors;
    }

    /// <summary>Where the spec came from (usually the file path), as shown to the user.</summary>
    public string SourceName { get; }

    /// <summary>All problems, in file order; those without a line come last.</summary>
    public IReadOnlyList<SpecError> Errors { get; }

    private static string Format(string sourceName, IReadOnlyList<SpecError> errors)
    {
        var text = new StringBuilder();
        text.Append($"invalid job spec {sourceName}: {errors.Count} error{(errors.Count == 1 ? "" : "s")}");
        foreach (var error in errors)
            text.Append('\n').Append("  ").Append(error);
        return text.ToString();
    }
}
