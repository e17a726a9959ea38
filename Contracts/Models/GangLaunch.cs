namespace Orchestrator.Contracts.Models;

/// <summary>A job's current gang as a node agent checks it before starting a proxy for it.</summary>
/// <param name="Launch">The launch number (1 for the first gang, +1 per relaunch).</param>
/// <param name="OutputDirectory">The job's run directory (shared by every node).</param>
/// <param name="Phase">The job's phase (proxies start only while Launching or Running).</param>
[GenerateSerializer, Immutable, Alias("orchestrator.GangLaunch.v1")]
public sealed record GangLaunch(int Launch, string OutputDirectory, JobPhase Phase);
