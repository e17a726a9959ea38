namespace Orchestrator.Tests.Cli;

/// <summary>Job specs (YAML text) for CLI tests: tiny, so a run takes about a second.</summary>
internal static class CliSpecs
{
    /// <summary>A one-epoch MLP on the generated dataset; <paramref name="checkpoint"/> is the flow mapping of that section.</summary>
    public static string Synthetic(string checkpoint = "{every_steps: 2, keep: 5}") =>
        $$"""
        name: cli-test
        device: cpu
        data: {dataset: synthetic}
        model: {kind: mlp, width: 2}
        training: {epochs: 1, global_batch: 64, threads: 1}
        checkpoint: {{checkpoint}}

        """;

    /// <summary>The same job reading an MNIST-layout dataset from <paramref name="root"/>.</summary>
    public static string Idx(string dataset, string root) =>
        $$"""
        name: cli-test
        device: cpu
        data: {dataset: {{dataset}}, root: '{{root}}'}
        model: {kind: mlp, width: 2}
        training: {epochs: 1, global_batch: 64, threads: 1}

        """;

    /// <summary>Writes <paramref name="yaml"/> to <paramref name="name"/> in <paramref name="directory"/> and returns its path.</summary>
    public static string Write(TempDirectory directory, string yaml, string name = "spec.yaml")
    {
        var path = directory.File(name);
        File.WriteAllText(path, yaml);
        return path;
    }
}
