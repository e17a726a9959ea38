using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Orchestrator.Spec;

/// <summary>
/// Binds one YAML mapping of the spec. Each getter names a key, returns its typed value (or the
/// fallback when absent or wrong) and records the key as known; <see cref="ReportUnknown"/> then
/// flags every key nobody asked for. Adding a field to the schema is therefore one getter call.
/// Errors are collected in the shared <see cref="SpecReadContext"/>, never thrown.
/// </summary>
internal sealed class MappingReader
{
    private readonly SpecReadContext context;
    private readonly Dictionary<string, (YamlNode Key, YamlNode Value)> entries = new(StringComparer.Ordinal);
    private readonly List<string> known = [];
    private readonly YamlMappingNode? node;

    /// <param name="node">The mapping; null binds every key to its fallback (section absent or invalid).</param>
    /// <param name="path">Dotted path of the mapping itself; empty for the document root.</param>
    public MappingReader(YamlMappingNode? node, string path, SpecReadContext context)
    {
        Path = path;
        this.context = context;
        this.node = node;
        if (node is null)
            return;
        foreach (var (key, value) in node.Children)
        {
            if (key is YamlScalarNode { Value: { } name } && !IsNull(key))
                entries[name] = (key, value);
            else
                context.Add(context.Origins.Locate(key).Error(path, "keys must be plain names"));
        }
    }

    /// <summary>Dotted path of this mapping; empty at the root.</summary>
    public string Path { get; }

    /// <summary>Dotted path of <paramref name="key"/> inside this mapping.</summary>
    public string PathOf(string key) => Path.Length == 0 ? key : $"{Path}.{key}";

    /// <summary>True when the key is present (with any value). Marks it known.</summary>
    public bool Has(string key) => TryGet(key, out _);

    /// <summary>
    /// True when the key is present; otherwise records "is required" at the mapping's own line (a key that
    /// is not there has none). Marks the key known.
    /// </summary>
    public bool Require(string key)
    {
        if (Has(key))
            return true;
        var error = node is null
            ? new SpecError(PathOf(key), "is required", null)
            : context.Origins.Locate(node).Error(PathOf(key), "is required");
        context.Add(error);
        return false;
    }

    public int Int(string key, int fallback) => Scalar(key, fallback, ScalarParsers.Int32);

    public long Long(string key, long fallback) => Scalar(key, fallback, ScalarParsers.Int64);

    public double Double(string key, double fallback) => Scalar(key, fallback, ScalarParsers.Double);

    public bool Bool(string key, bool fallback) => Scalar(key, fallback, ScalarParsers.Boolean);

    public string String(string key, string fallback) => Scalar(key, fallback, ScalarParsers.String);

    /// <summary>A choice of the spec, written as the name <paramref name="name"/> gives its value (<see cref="SpecNames"/>).</summary>
    public T Choice<T>(string key, Func<T, string> name, T fallback) where T : struct, Enum
    {
        if (!TryGet(key, out var value))
            return fallback;
        if (!TryReadScalar(key, value, ScalarParsers.String, out var text))
            return fallback;
        if (SpecChoice.TryParse(text, name, out var choice))
            return choice;
        AddError(key, value, SpecChoice.Unknown(text, name));
        return fallback;
    }

    /// <summary>A scalar of any type <paramref name="parser"/> understands.</summary>
    public T Scalar<T>(string key, T fallback, ScalarParser<T> parser)
    {
        if (!TryGet(key, out var value))
            return fallback;
        return TryReadScalar(key, value, parser, out var result) ? result : fallback;
    }

    /// <summary>
    /// A nested section. <paramref name="bind"/> always runs, on an empty reader when the key is absent,
    /// so the section's own fallbacks supply the defaults; its unknown keys are reported afterwards.
    /// </summary>
    public T Mapping<T>(string key, Func<MappingReader, T> bind)
    {
        YamlMappingNode? node = null;
        if (TryGet(key, out var value) && !IsNull(value))
        {
            if (value is YamlMappingNode mapping)
                node = mapping;
            else
                AddError(key, value, $"expected a mapping, got {Describe(value)}");
        }
        var child = new MappingReader(node, PathOf(key), context);
        var result = bind(child);
        child.ReportUnknown();
        return result;
    }

    /// <summary>A mapping of free-form names to scalar strings (labels): every key is accepted, in name order.</summary>
    public IReadOnlyDictionary<string, string> StringMap(string key) => Mapping(key, child =>
    {
        var map = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in child.entries.Keys.ToList()) map[name] = child.String(name, "");
        return map;
    });

    /// <summary>A list of sections, bound item by item; items are addressed as <c>path[i]</c>.</summary>
    public IReadOnlyList<T> List<T>(string key, IReadOnlyList<T> fallback, Func<MappingReader, T> bindItem) =>
        Sequence(key, fallback, (item, path) =>
        {
            if (item is not YamlMappingNode mapping)
            {
                context.Add(context.Origins.Locate(item).Error(path, $"expected a mapping, got {Describe(item)}"));
                return (false, default!);
            }
            var errorsBefore = context.Errors.Count;
            var child = new MappingReader(mapping, path, context);
            var result = bindItem(child);
            child.ReportUnknown();
            // Getters fall back silently after recording an error; a new error means the item is not what was written.
            return (context.Errors.Count == errorsBefore, result);
        });

    /// <summary>A list of scalars; items are addressed as <c>path[i]</c>.</summary>
    public IReadOnlyList<T> List<T>(string key, IReadOnlyList<T> fallback, ScalarParser<T> parser) =>
        Sequence(key, fallback, (item, path) =>
            TryConvert(path, item, parser, out var value) ? (true, value) : (false, default!));

    /// <summary>Reports every present key that no getter asked for, suggesting the nearest known one.</summary>
    public void ReportUnknown()
    {
        foreach (var (name, (key, _)) in entries)
        {
            if (known.Contains(name))
                continue;
            var suggestion = Suggest(name);
            var hint = suggestion is null ? "" : $"; did you mean '{suggestion}'?";
            if (context.Origins.Contains(key))
            {
                // A key --set created: blame the whole override path the user typed, not just its first unknown part.
                var path = SpecText.Shorten(context.Origins.OverridePathOf(key) ?? PathOf(name));
                context.Add(new SpecError(path, "unknown field (from --set)" + hint, null) { FromOverride = true });
            }
            else
            {
                context.Add(context.Origins.Locate(key).Error(PathOf(SpecText.Shorten(name)), "unknown field" + hint));
            }
        }
    }

    private IReadOnlyList<T> Sequence<T>(string key, IReadOnlyList<T> fallback, Func<YamlNode, string, (bool Ok, T Value)> convert)
    {
        if (!TryGet(key, out var value))
            return fallback;
        if (IsNull(value))
            return [];
        if (value is not YamlSequenceNode sequence)
        {
            AddError(key, value, $"expected a list, got {Describe(value)}");
            return fallback;
        }
        var items = new List<T>(sequence.Children.Count);
        var ok = true;
        for (var i = 0; i < sequence.Children.Count; i++)
        {
            var itemPath = $"{PathOf(key)}[{i}]";
            // Range checks on single items (sizes[2]) then cite the item's own line.
            context.RecordLocation(itemPath, context.Origins.Locate(sequence.Children[i]));
            var (itemOk, item) = convert(sequence.Children[i], itemPath);
            ok &= itemOk;
            items.Add(item);
        }
        return ok ? items : fallback;
    }

    private bool TryGet(string key, out YamlNode value)
    {
        if (!known.Contains(key))
            known.Add(key);
        if (entries.TryGetValue(key, out var entry))
        {
            value = entry.Value;
            context.RecordLocation(PathOf(key), context.Origins.Locate(value));
            return true;
        }
        value = null!;
        return false;
    }

    private bool TryReadScalar<T>(string key, YamlNode value, ScalarParser<T> parser, out T result) =>
        TryConvert(PathOf(key), value, parser, out result);

    private bool TryConvert<T>(string path, YamlNode node, ScalarParser<T> parser, out T result)
    {
        if (node is YamlScalarNode { Value: { } text } && !IsNull(node) && parser.TryParse(text, out result))
            return true;
        var explained = node is YamlScalarNode { Value: { } refused } && !IsNull(node) ? parser.Explain?.Invoke(refused) : null;
        context.Add(context.Origins.Locate(node).Error(path, explained ?? $"expected {parser.Expected}, got {Describe(node)}"));
        result = default!;
        return false;
    }

    private void AddError(string key, YamlNode value, string message) =>
        context.Add(context.Origins.Locate(value).Error(PathOf(key), message));

    private string? Suggest(string unknown)
    {
        string? best = null;
        var bestDistance = 3; // suggest only within edit distance 2; further away it is more confusing than helpful
        foreach (var candidate in known)
        {
            var distance = EditDistance.Levenshtein(unknown, candidate);
            if (distance < bestDistance)
                (best, bestDistance) = (candidate, distance);
        }
        return best;
    }

    /// <summary>A plain <c>~</c>, <c>null</c> or empty scalar is YAML null; quoted ones are strings.</summary>
    internal static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: not (ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted) } scalar
        && scalar.Value is null or "" or "~" or "null" or "Null" or "NULL";

    internal static string Describe(YamlNode node) => node switch
    {
        _ when IsNull(node) => "nothing",
        YamlScalarNode scalar => SpecText.Quote(scalar.Value ?? ""),
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        _ => "an unsupported node",
    };
}
