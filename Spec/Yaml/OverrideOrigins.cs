using YamlDotNet.RepresentationModel;

namespace Orchestrator.Spec;

/// <summary>
/// Remembers which nodes of the tree were put there by <c>--set</c>. Their marks point into the
/// one-line override text, so reporting those lines would send the user to the wrong place in the file.
/// </summary>
internal sealed class OverrideOrigins
{
    // Reference identity: YamlNode equality is structural, and two equal scalars may come from different places.
    private readonly HashSet<YamlNode> nodes = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<YamlNode, string> createdKeys = new(ReferenceEqualityComparer.Instance);

    /// <summary>Marks <paramref name="node"/> and everything below it as override-made.</summary>
    public void MarkTree(YamlNode node)
    {
        nodes.Add(node);
        foreach (var child in node.AllNodes)
            nodes.Add(child);
    }

    /// <summary>Marks a key the override created, with the full override path to blame if the key is unknown.</summary>
    public void MarkCreatedKey(YamlNode key, string overridePath)
    {
        nodes.Add(key);
        createdKeys.TryAdd(key, overridePath);
    }

    public bool Contains(YamlNode node) => nodes.Contains(node);

    /// <summary>The <c>--set</c> path that created <paramref name="key"/>, or null.</summary>
    public string? OverridePathOf(YamlNode key) => createdKeys.GetValueOrDefault(key);

    public SpecLocation Locate(YamlNode node) =>
        Contains(node) ? new SpecLocation(null, true) : new SpecLocation(checked((int)node.Start.Line), false);
}
