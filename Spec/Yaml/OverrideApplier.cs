using YamlDotNet.RepresentationModel;

namespace Orchestrator.Spec;

/// <summary>
/// Applies <c>--set dotted.path=value</c> overrides to the YAML tree before binding, so overridden
/// values go through exactly the same type, range and unknown-key checks as values in the file.
/// </summary>
internal static class OverrideApplier
{
    /// <summary>One well-formed override: the path split into keys, and its value as a YAML node.</summary>
    public sealed record Override(string Path, IReadOnlyList<string> Keys, YamlNode Value);

    /// <summary>Splits and parses each override; malformed ones become errors and are skipped.</summary>
    public static IReadOnlyList<Override> Parse(IReadOnlyList<string> overrides, SpecReadContext context)
    {
        var parsed = new List<Override>();
        foreach (var text in overrides)
        {
            var equals = text.IndexOf('=');
            if (equals < 0)
            {
                context.Add(SetError($"expected dotted.path=value, got {SpecText.Quote(text)}"));
                continue;
            }
            var path = text[..equals].Trim();
            var keys = path.Split('.');
            if (path.Length == 0 || keys.Any(k => k.Trim().Length == 0))
            {
                context.Add(SetError($"empty field name in {SpecText.Quote(text)}"));
                continue;
            }
            if (keys.Length > YamlLimits.MaxDepth || path.Length > YamlLimits.MaxScalarChars)
            {
                context.Add(SetError($"the field path in {SpecText.Quote(text)} is longer than the limit of " +
                    $"{YamlLimits.MaxDepth} names or {YamlLimits.MaxScalarChars} characters"));
                continue;
            }
            keys = [.. keys.Select(k => k.Trim())];
            path = string.Join('.', keys);
            if (TryParseValue(text[(equals + 1)..], out var value, out var problem))
                parsed.Add(new Override(path, keys, value));
            else
                context.Add(new SpecError(SpecText.Shorten(path), $"invalid value: {problem}", null) { FromOverride = true });
        }
        return parsed;
    }

    /// <summary>Applies overrides in order (later wins), creating intermediate mappings as needed.</summary>
    public static void Apply(YamlMappingNode root, IReadOnlyList<Override> overrides, SpecReadContext context)
    {
        foreach (var item in overrides)
        {
            context.Origins.MarkTree(item.Value);
            var mapping = root;
            for (var i = 0; i < item.Keys.Count - 1; i++)
            {
                var key = FindKey(mapping, item.Keys[i]);
                if (key is not null && mapping.Children[key] is YamlMappingNode existing)
                {
                    mapping = existing;
                    continue;
                }
                // Absent, or a scalar/list in the way: the override's deeper path wins, as "later wins" implies.
                var created = new YamlMappingNode();
                context.Origins.MarkTree(created);
                if (key is null)
                {
                    key = new YamlScalarNode(item.Keys[i]);
                    context.Origins.MarkCreatedKey(key, item.Path);
                }
                mapping.Children[key] = created;
                mapping = created;
            }
            var last = FindKey(mapping, item.Keys[^1]);
            if (last is null)
            {
                last = new YamlScalarNode(item.Keys[^1]);
                context.Origins.MarkCreatedKey(last, item.Path);
            }
            mapping.Children[last] = item.Value;
        }
    }

    private static YamlNode? FindKey(YamlMappingNode mapping, string name) =>
        mapping.Children.Keys.FirstOrDefault(k => k is YamlScalarNode { Value: { } v } && v == name);

    private static bool TryParseValue(string text, out YamlNode value, out string problem)
    {
        value = null!;
        problem = "";
        if (!YamlErrors.TryLoad(text, out var stream, out YamlProblem? found))
        {
            problem = found.Message;
            return false;
        }
        if (stream.Documents.Count > 1)
        {
            problem = "more than one YAML document";
            return false;
        }
        // "path=" means an empty value; YAML reads it as null, which the typed getters then reject.
        value = stream.Documents.Count == 0 ? new YamlScalarNode("") : stream.Documents[0].RootNode;
        return true;
    }

    private static SpecError SetError(string message) => new("--set", message, null) { FromOverride = true };
}
