namespace Orchestrator.Bench;

/// <summary>
/// The command-line verbs served by the harness (<c>orchestrator-bench.dll</c>) rather than the product CLI
/// (<c>orchestrator.dll</c>). The <c>./orchestrator</c> launcher script sends these verbs here; the tests and the
/// benchmarks' own child processes pick the assembly with <see cref="EntryAssemblyFor"/>.
/// </summary>
public static class HarnessVerbs
{
    /// <summary><c>bench</c>: benchmarks that print figures; <c>collectives-check</c>: an allreduce check run under mpirun.</summary>
    public static IReadOnlyList<string> All { get; } = ["bench", "collectives-check"];

    /// <summary>The harness assembly's file name.</summary>
    public const string Assembly = "orchestrator-bench.dll";

    /// <summary>The product CLI's file name.</summary>
    public const string ProductAssembly = "orchestrator.dll";

    /// <summary>Whether <paramref name="verb"/> (the first argument) is the harness's.</summary>
    public static bool Handles(string verb) => All.Contains(verb, StringComparer.Ordinal);

    /// <summary>The assembly in <paramref name="directory"/> that runs a command line starting with <paramref name="verb"/>.</summary>
    public static string EntryAssemblyFor(string directory, string? verb) =>
        Path.Combine(directory, verb is not null && Handles(verb) ? Assembly : ProductAssembly);
}
