namespace Orchestrator.Spec;

/// <summary>Where a value came from: a file line, or a <c>--set</c> override (which has no useful line).</summary>
internal readonly record struct SpecLocation(int? Line, bool FromOverride)
{
    public SpecError Error(string path, string message) => new(path, message, Line) { FromOverride = FromOverride };
}
