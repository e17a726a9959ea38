using Orleans.Runtime;

namespace Orchestrator.Silos.Health;

/// <summary>
/// Whether the silo should get traffic: it is an <see cref="SiloStatus.Active"/> member of its cluster (Orleans' own view of
/// this silo), and, when the cluster keeps its membership and state in Redis, the last look at Redis succeeded
/// (<see cref="ReportRedis"/>, fed by the Redis watchdog every second). Without Redis only membership counts.
/// </summary>
public sealed class SiloReadiness(IClusterMembershipService membership, ILocalSiloDetails silo, bool usesRedis)
{
    private volatile string? redisProblem = usesRedis ? "redis: not checked yet" : null;

    /// <summary>Records the outcome of a look at Redis (null = it answered).</summary>
    public void ReportRedis(string? problem)
    {
        if (usesRedis) redisProblem = problem is null ? null : $"redis: {problem}";
    }

    /// <summary>Null when ready, else why not (one line, the readiness probe's response body).</summary>
    public string? Problem()
    {
        var status = membership.CurrentSnapshot.GetSiloStatus(silo.SiloAddress);
        if (status != SiloStatus.Active)
            return $"silo {silo.SiloAddress} is {status.ToString().ToLowerInvariant()}, not an active cluster member";
        return redisProblem;
    }
}
