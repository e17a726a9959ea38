using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Orchestrator.Contracts.Grains;

namespace Orchestrator.Silos.Hosting;

/// <summary>
/// Turns cluster membership changes into job events: when a silo dies (its node is lost) or joins, the scheduler re-admits
/// from its queue; gangs with ranks on a dead node are told (<see cref="IJobGrain.NodeLostAsync"/>: they restart on live nodes
/// or wait for capacity), and every job holding slots is touched, so a job whose grain lived on the dead silo is activated
/// (and adopts or relaunches its gang) within seconds instead of at its next reminder. Every silo runs one; the job events
/// are idempotent, so several silos reporting one loss restart a job once.
/// </summary>
internal sealed class NodeWatcher(IClusterMembershipService membership, IGrainFactory grains) : BackgroundService
{
    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var seen = new Dictionary<SiloAddress, SiloStatus>();
        try
        {
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(stoppingToken))
            {
                var changed = snapshot.Members.Any(m => !seen.TryGetValue(m.Key, out var status) || status != m.Value.Status);
                foreach (var (silo, member) in snapshot.Members) seen[silo] = member.Status;
                if (!changed) continue;
                try
                {
                    await ReactAsync();
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    Trace.TraceWarning($"node watch: reacting to a membership change failed: {e.Message}");
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task ReactAsync()
    {
        var change = await grains.GetGrain<ISchedulerGrain>(ISchedulerGrain.DefaultKey).NodesChangedAsync();
        foreach (var displaced in change.Displaced)
        {
            Trace.TraceInformation($"node watch: job '{displaced.JobId}' lost node(s) {string.Join(", ", displaced.DeadNodes)}");
            await Quietly(() => grains.GetGrain<IJobGrain>(displaced.JobId).NodeLostAsync(string.Join(", ", displaced.DeadNodes)));
        }
        foreach (var started in change.Started)
            await Quietly(() => grains.GetGrain<IJobGrain>(started.JobId).SlotsGrantedAsync());
        foreach (var job in change.Running.Except(change.Displaced.Select(d => d.JobId)))
            await Quietly(() => grains.GetGrain<IJobGrain>(job).GetStatusAsync()); // activates a grain whose silo died
    }

    private static async Task Quietly(Func<Task> call)
    {
        try { await call(); }
        catch (InvalidOperationException) { } // the job ended or was cancelled meanwhile
    }
}
