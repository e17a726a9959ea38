using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Orchestrator.Contracts.Grains;
using Orchestrator.Contracts.Models;
using Orchestrator.Silos.Config;
using Orchestrator.Spec;

namespace Orchestrator.Silos.Hosting;

/// <summary>
/// Offers this silo's machine to the cluster's scheduler as a node (the <c>node</c> section of the <c>up</c> config), once
/// the silo is up; queued jobs that now fit are started. A refused registration (the name or address of a live node) is a
/// user error: the silo does not stay up half-registered.
/// </summary>
public static class NodeRegistration
{
    /// <summary>What the scheduler learns about the node of the silo at <paramref name="silo"/>.</summary>
    public static NodeInfo Describe(NodeConfig node, SiloAddress silo, int gatewayPort)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(silo);
        return new NodeInfo(node.Name, node.Address.ToString(), node.Slots, node.Gpus, [.. node.Labels.Select(l => $"{l.Key}={l.Value}")], silo.ToParsableString(),
            $"{node.Address}:{gatewayPort.ToString(CultureInfo.InvariantCulture)}");
    }

    /// <summary>Registers the node with the scheduler and starts the jobs that got slots.</summary>
    /// <exception cref="UserFacingException">The scheduler refused the node (its message says why).</exception>
    public static async Task RegisterAsync(IServiceProvider services, NodeConfig node, int gatewayPort)
    {
        ArgumentNullException.ThrowIfNull(services);
        var grains = services.GetRequiredService<IGrainFactory>();
        var info = Describe(node, services.GetRequiredService<ILocalSiloDetails>().SiloAddress, gatewayPort);
        System.Collections.Immutable.ImmutableArray<SlotGrant> started;
        try
        {
            started = await grains.GetGrain<ISchedulerGrain>(ISchedulerGrain.DefaultKey).RegisterNodeAsync(info);
        }
        catch (ArgumentException e)
        {
            throw new UserFacingException($"node '{node.Name}' was not registered: {e.Message}", e);
        }
        foreach (var grant in started)
        {
            try { await grains.GetGrain<IJobGrain>(grant.JobId).SlotsGrantedAsync(); }
            catch (InvalidOperationException) { } // cancelled meanwhile: its own cancel releases the slots again
        }
    }
}
