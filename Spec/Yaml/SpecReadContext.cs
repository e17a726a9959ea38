namespace Orchestrator.Spec;

/// <summary>
/// State shared by all readers of one spec: the errors collected so far (reported together at the end),
/// which nodes came from overrides, and where each bound value was, so later range checks can cite lines.
/// </summary>
internal sealed class SpecReadContext
{
    private readonly List<SpecError> errors = [];
    private readonly Dictionary<string, SpecLocation> locations = new(StringComparer.Ordinal);

    public OverrideOrigins Origins { get; } = new();

    public IReadOnlyList<SpecError> Errors => errors;

    public void Add(SpecError error) => errors.Add(error);

    public void RecordLocation(string path, SpecLocation location) => locations[path] = location;

    public SpecLocation? LocationOf(string path) => locations.TryGetValue(path, out var location) ? location : null;
}
