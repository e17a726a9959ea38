namespace Orchestrator.Trainer.Inference.LoadGen;

/// <summary>The four MLPerf Inference scenarios (ALGORITHMS.md section 11).</summary>
public enum InferenceScenario
{
    /// <summary>One sample per query, the next query when the previous one completes; metric: 90th-percentile latency.</summary>
    SingleStream,

    /// <summary>N samples per query, one query every interval; metric: the largest N whose 99th-percentile latency is within the interval.</summary>
    MultiStream,

    /// <summary>One sample per query, Poisson arrivals; metric: the largest rate whose 99th-percentile latency is within the bound.</summary>
    Server,

    /// <summary>One query holding every sample; metric: samples per second.</summary>
    Offline,
}

/// <summary>The scenarios' command-line names.</summary>
public static class InferenceScenarioNames
{
    /// <summary>Every scenario's name, in declaration order.</summary>
    public static IReadOnlyList<string> All { get; } = Enum.GetValues<InferenceScenario>().Select(Name).ToArray();

    /// <summary>single-stream, multi-stream, server or offline.</summary>
    public static string Name(this InferenceScenario scenario) => scenario switch
    {
        InferenceScenario.SingleStream => "single-stream",
        InferenceScenario.MultiStream => "multi-stream",
        InferenceScenario.Server => "server",
        InferenceScenario.Offline => "offline",
    };

    /// <summary>The scenario named <paramref name="name"/>, or null.</summary>
    public static InferenceScenario? Parse(string name) =>
        Enum.GetValues<InferenceScenario>().Cast<InferenceScenario?>().FirstOrDefault(s => s!.Value.Name() == name);
}
