using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orchestrator.Scheduler.Grains;
using Orleans.Clustering.Redis;
using Orleans.Configuration;
using StackExchange.Redis;

namespace Orchestrator.Silos.Hosting;

/// <summary>
/// Notices that Redis lost this cluster's records (a server restarted empty, keys flushed or evicted) and puts back what
/// the silos still hold in memory. Orleans does neither on its own: its membership keeps updating a row that is gone
/// (clients that look for gateways in Redis then find none), and grains write their state only when it changes.
/// <para>
/// Every second it renews a sentinel key of its own (gone = Redis lost data) and reads the cluster's membership hash,
/// remembering it while this silo's row is in it. When the row is gone while the silo is active, it writes the remembered
/// rows back in one atomic script (only rows that are missing, with a table version above every version the silos have
/// seen, so their membership accepts the table as newer and none of them finds itself missing and stops). When the
/// sentinel is gone, it asks every stored-state grain active here to write its state back. It logs the loss, the
/// recovery, and Redis becoming unreachable or reachable again.
/// </para>
/// </summary>
internal sealed class RedisLossWatchdog(
    IOptions<RedisClusteringOptions> redisOptions,
    IOptions<ClusterOptions> clusterOptions,
    ILocalSiloDetails silo,
    IClusterMembershipService membership,
    ActiveStoredStateGrains grains,
    Health.SiloReadiness readiness) : BackgroundService
{
    private const string VersionField = "Version"; // Orleans' RedisMembershipTable keeps the table version in this field

    // KEYS[1]: the membership hash. ARGV[1]: this silo's field; ARGV[2]: the newest version seen; then field, value pairs.
    private const string RestoreScript = """
        if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
        local version = tonumber(redis.call('HGET', KEYS[1], 'Version') or '0') or 0
        local seen = tonumber(ARGV[2])
        if seen > version then version = seen end
        redis.call('HSET', KEYS[1], 'Version', tostring(version + 1))
        local restored = 0
        for i = 3, #ARGV, 2 do restored = restored + redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) end
        return restored
        """;

    private static readonly TimeSpan Period = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan SentinelLifetime = TimeSpan.FromMinutes(1);

    private HashEntry[]? remembered;
    private bool armed;
    private bool unreachable;

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var options = (redisOptions.Value.ConfigurationOptions ?? throw new InvalidOperationException("Redis clustering without configuration")).Clone();
        options.AbortOnConnectFail = false; // keep reconnecting while Redis is down
        using var connection = await ConnectionMultiplexer.ConnectAsync(options);
        var db = connection.GetDatabase();
        var key = redisOptions.Value.CreateRedisKey(clusterOptions.Value);
        var field = silo.SiloAddress.ToString();
        RedisKey sentinel = $"{clusterOptions.Value.ServiceId}/sentinel/{field}";
        using var timer = new PeriodicTimer(Period);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await CheckAsync(db, key, field, sentinel);
                readiness.ReportRedis(null);
                if (unreachable)
                    Trace.TraceInformation("redis: reachable again");
                unreachable = false;
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                if (!unreachable)
                    Trace.TraceWarning($"redis: unreachable ({e.Message}); the cluster's state cannot be stored until it is back");
                unreachable = true;
                readiness.ReportRedis($"unreachable ({e.Message})");
            }
        }
    }

    private async Task CheckAsync(IDatabase db, RedisKey key, string field, RedisKey sentinel)
    {
        // The sentinel is this silo's own key: gone means Redis lost data, even when another silo restored membership first.
        // It is set again only after the write-back, so a write-back cut short by Redis failing again is retried.
        var present = await db.KeyExpireAsync(sentinel, SentinelLifetime);
        var lost = !present && armed;
        if (lost)
            Trace.TraceWarning("redis: this silo's records in Redis are gone (did Redis restart empty, or were keys flushed or evicted?)");
        await RestoreMembershipAsync(db, key, field);
        if (lost)
            await WriteBackGrainsAsync();
        if (!present)
            await db.StringSetAsync(sentinel, "1", SentinelLifetime);
        armed = true;
    }

    private async Task RestoreMembershipAsync(IDatabase db, RedisKey key, string field)
    {
        var table = await db.HashGetAllAsync(key);
        if (table.Any(e => e.Name == field))
        {
            remembered = table;
            return;
        }
        var active = membership.CurrentSnapshot.GetSiloStatus(silo.SiloAddress) == SiloStatus.Active;
        if (!active || remembered is null) return; // joining or leaving: the row is Orleans' business

        var seen = Math.Max(membership.CurrentSnapshot.Version.Value, VersionOf(remembered));
        var rows = remembered.Where(e => e.Name != VersionField).SelectMany(e => new RedisValue[] { e.Name, e.Value });
        var restored = (long)await db.ScriptEvaluateAsync(RestoreScript, [key], [field, seen, .. rows]);
        Trace.TraceInformation($"redis: the cluster's membership was gone; wrote back {restored} silo row(s) as this silo last saw them, so clients find the gateways again");
    }

    private async Task WriteBackGrainsAsync()
    {
        var active = grains.Snapshot();
        var written = 0;
        foreach (var grain in active)
        {
            try
            {
                if (await grain.WriteBackIfLostAsync()) written++;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Trace.TraceWarning($"redis: a grain could not write its state back: {e.Message}");
            }
        }
        Trace.TraceInformation($"redis: recovered: {written} of {active.Count} grain(s) active on this silo wrote their state back");
    }

    private static long VersionOf(HashEntry[] table) =>
        table.FirstOrDefault(e => e.Name == VersionField).Value is { HasValue: true } v && long.TryParse(v.ToString(), out var n) ? n : 0;
}
