using System.Collections.Immutable;
using Microsoft.Extensions.DependencyInjection;
using Orchestrator.Contracts.Grains;
using Orchestrator.Contracts.Models;
using Orchestrator.Scheduler.Launchers;
using Orchestrator.Spec;
using Orleans.Concurrency;

namespace Orchestrator.Scheduler.Grains;

/// <summary>
/// A node's agent (see <see cref="INodeAgentGrain"/>): checks a proxy request against the job's current launch and placement,
/// then hands it to this silo's <see cref="NodeProxies"/>. Reentrant: waits and kills interleave (the state is the
/// thread-safe <see cref="NodeProxies"/>).
/// </summary>
[NodeSiloPlacement]
[Reentrant]
public sealed class NodeAgentGrain(IServiceProvider services) : Grain, INodeAgentGrain
{
    private NodeProxies Proxies => services.GetService<NodeProxies>()
        ?? throw new InvalidOperationException("this silo offers no node (its config has no node section): it starts no proxies");

    /// <inheritdoc />
    public async Task<int> StartProxyAsync(string jobId, int launch, ImmutableArray<string> words)
    {
        var proxies = Proxies;
        if (!HydraProxyCommand.TryParse(words, out var argv, out var refusal))
            throw new InvalidOperationException($"node {proxies.NodeName} refuses the command for job '{jobId}': {refusal}");
        var current = await GrainFactory.GetGrain<IJobGrain>(jobId).GetCurrentLaunchAsync();
        if (current.Launch != launch || current.Phase is not (JobPhase.Launching or JobPhase.Running))
            throw new InvalidOperationException(
                $"node {proxies.NodeName} refuses launch {launch} of job '{jobId}': the job is {current.Phase} at launch {current.Launch}");
        if (proxies.DedicatedJob is { } dedicated)
        {
            // A Kubernetes worker pod: made for one job, whose launcher placed the ranks on it; no other job runs here.
            if (dedicated != jobId)
                throw new InvalidOperationException($"node {proxies.NodeName} refuses job '{jobId}': it is a worker pod of job '{dedicated}' only");
        }
        else
        {
            var grant = await GrainFactory.GetGrain<ISchedulerGrain>(ISchedulerGrain.DefaultKey).GetGrantAsync(jobId);
            if (grant is null || !grant.Nodes.Any(n => n.Node == proxies.NodeName))
                throw new InvalidOperationException($"node {proxies.NodeName} refuses job '{jobId}': its placement does not include this node");
        }
        if (MissingDataset(current.OutputDirectory) is { } missing)
            throw new InvalidOperationException($"node {proxies.NodeName} cannot run job '{jobId}': {missing}");
        return proxies.Start(jobId, launch, argv, current.OutputDirectory);
    }

    /// <summary>
    /// Why this node cannot read the job's dataset (its <c>data.root</c> is missing here), or null. Checked before the proxy
    /// starts, so a node that lacks the data fails the launch naming node and path instead of ranks failing one by one.
    /// </summary>
    private static string? MissingDataset(string runDirectory)
    {
        var specPath = Path.Combine(runDirectory, JobRunner.SpecFileName);
        JobSpec spec;
        try
        {
            spec = JobSpecLoader.LoadFile(specPath, [], SpecHost.CoresOnly);
        }
        catch (UserFacingException e)
        {
            return $"its spec is not readable here ({e.Message}); is runs_root the same shared directory on every node?";
        }
        if (spec.Data.Dataset == DatasetKind.Synthetic || Directory.Exists(spec.Data.Root)) return null;
        return $"data.root {spec.Data.Root} does not exist on this node (every node needs the dataset at the same path)";
    }

    /// <inheritdoc />
    public Task<int?> WaitProxyAsync(int processId, TimeSpan timeout) => Proxies.WaitAsync(processId, timeout);

    /// <inheritdoc />
    public Task<int> KillJobAsync(string jobId) => Proxies.KillJobAsync(jobId);

    /// <inheritdoc />
    public Task<int> KillGangAsync(string exitCodePath) =>
        System.Text.RegularExpressions.Regex.IsMatch(Path.GetFileName(exitCodePath), "^launch-[0-9]+\\.exit$") && Path.IsPathFullyQualified(exitCodePath)
            ? Task.FromResult(AdoptedGang.Kill(exitCodePath))
            : throw new ArgumentException($"'{exitCodePath}' is not a gang's exit-code file (RUN/logs/launch-N.exit)");
}
