using Orchestrator.Bench.Drivers;
using Orchestrator.Tests.Observability;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;

namespace Orchestrator.Tests.Deployment;

/// <summary>
/// The offline tools the deployment tests use: <c>kubectl kustomize</c> (renders an overlay; no API server involved) and the
/// node validator <c>k8s/validate/validate.js</c> (its npm packages installed with <c>npm ci</c> once, under a lock, when
/// <c>node_modules</c> is missing or older than <c>package-lock.json</c>). CI installs kubectl (Debian's
/// <c>kubernetes-client</c>), node and npm (<c>.ci/run</c>); a missing tool fails the test with how to install it.
/// </summary>
internal static class KubernetesTools
{
    public static readonly string[] Overlays = ["cpu", "gpu", "tls"];

    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(5);
    private static readonly object NpmLock = new();

    /// <summary>The objects <c>kubectl kustomize k8s/overlays/OVERLAY</c> renders, and the rendered text.</summary>
    public static (List<Dictionary<string, object>> Objects, string Yaml) Render(string overlay)
    {
        var result = ChildProcess.Run("kubectl", ["kustomize", RepoFiles.Path($"k8s/overlays/{overlay}")], Limit,
            "install kubectl (Debian: apt-get install kubernetes-client)");
        Assert.True(result.ExitCode == 0, $"kubectl kustomize k8s/overlays/{overlay} failed:\n{result.Stdout}{result.Stderr}");
        return (ParseAll(result.Stdout), result.Stdout);
    }

    /// <summary>Runs the node validator on <paramref name="yaml"/>: its exit code and output.</summary>
    public static (int ExitCode, string Output) Validate(string yaml)
    {
        EnsureNpmPackages();
        using var dir = new TempDirectory();
        var file = dir.File("objects.yaml");
        File.WriteAllText(file, yaml);
        var result = ChildProcess.Run("node", [RepoFiles.Path("k8s/validate/validate.js"), file], Limit,
            "install node and npm (Debian: apt-get install nodejs npm)");
        return (result.ExitCode, result.Stdout + result.Stderr);
    }

    private static void EnsureNpmPackages()
    {
        lock (NpmLock)
        {
            var root = RepoFiles.Path("k8s/validate");
            var modules = Path.Combine(root, "node_modules");
            var marker = Path.Combine(modules, ".package-lock.json"); // npm writes it on every install
            if (File.Exists(marker) && File.GetLastWriteTimeUtc(marker) >= File.GetLastWriteTimeUtc(Path.Combine(root, "package-lock.json")))
                return;
            var result = ChildProcess.Run("npm", ["ci", "--no-audit", "--no-fund"], Limit, "install npm (Debian: apt-get install npm)", root);
            Assert.True(result.ExitCode == 0, $"npm ci in k8s/validate failed:\n{result.Stdout}{result.Stderr}");
        }
    }

    /// <summary>Every document of a YAML stream as nested maps and lists (scalars as strings).</summary>
    public static List<Dictionary<string, object>> ParseAll(string yaml)
    {
        var deserializer = new DeserializerBuilder().Build();
        var parser = new Parser(new StringReader(yaml));
        parser.Consume<StreamStart>();
        var all = new List<Dictionary<string, object>>();
        while (parser.Accept<DocumentStart>(out _))
        {
            if (deserializer.Deserialize<Dictionary<object, object>>(parser) is { } doc)
                all.Add((Dictionary<string, object>)Normalize(doc));
        }
        return all;
    }

    private static object Normalize(object value) => value switch
    {
        Dictionary<object, object> map => map.ToDictionary(e => (string)e.Key, e => Normalize(e.Value)),
        List<object> list => list.Select(Normalize).ToList(),
        _ => value ?? "",
    };

    // Navigation over the parsed maps: Get(obj, "spec", "template", "metadata", "labels").
    public static object? Get(object? node, params string[] path)
    {
        foreach (var key in path)
        {
            if (node is not Dictionary<string, object> map || !map.TryGetValue(key, out node)) return null;
        }
        return node;
    }

    public static Dictionary<string, object> Map(object? node, params string[] path) =>
        Get(node, path) as Dictionary<string, object> ?? [];

    public static List<object> List(object? node, params string[] path) => Get(node, path) as List<object> ?? [];

    public static string Str(object? node, params string[] path) => Get(node, path) as string ?? "";

    public static string Kind(Dictionary<string, object> obj) => Str(obj, "kind");

    public static string Name(Dictionary<string, object> obj) => Str(obj, "metadata", "name");

    public static Dictionary<string, object> Single(IEnumerable<Dictionary<string, object>> objects, string kind, string name) =>
        objects.Single(o => Kind(o) == kind && Name(o) == name);

    public static Dictionary<string, string> Labels(object? node) => Map(node).ToDictionary(e => e.Key, e => (string)e.Value);

    /// <summary>Whether <paramref name="labels"/> carries every pair of <paramref name="selector"/> (matchLabels only: the manifests use no expressions).</summary>
    public static bool Matches(Dictionary<string, string> selector, Dictionary<string, string> labels) =>
        selector.All(s => labels.TryGetValue(s.Key, out var v) && v == s.Value);
}
