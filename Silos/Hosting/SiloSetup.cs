using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestrator.Contracts;
using Orchestrator.Scheduler.Grains;
using Orchestrator.Scheduler.Launchers;
using Orchestrator.Silos.Health;
using Orchestrator.Silos.Telemetry;
using Orchestrator.Spec;
using Orleans.Configuration;
using StackExchange.Redis;

namespace Orchestrator.Silos.Hosting;

/// <summary>What differs between the silos the CLI starts (<c>run</c>'s embedded one, <c>up</c>'s long-running ones).</summary>
public sealed record SiloSettings
{
    /// <summary>Orleans cluster id: silos and clients of one cluster share it.</summary>
    public required string ClusterId { get; init; }

    /// <summary>Address the silo binds and advertises.</summary>
    public IPAddress Host { get; init; } = IPAddress.Loopback;

    /// <summary>Listen on every address while advertising <see cref="Host"/> (a pod reached through <c>kubectl port-forward</c>).</summary>
    public bool ListenAny { get; init; }

    /// <summary>Silo-to-silo port.</summary>
    public required int SiloPort { get; init; }

    /// <summary>Client gateway port (the CLI and the workers connect here).</summary>
    public required int GatewayPort { get; init; }

    /// <summary>Redis <c>host:port</c> for membership, grain state and reminders; null = one silo, memory storage.</summary>
    public string? Redis { get; init; }

    /// <summary>Worker slots the scheduler admits gangs against.</summary>
    public int WorkerSlots { get; init; } = Environment.ProcessorCount;

    /// <summary>Parent of the run directory of a job submitted without one.</summary>
    public string RunsRoot { get; init; } = RunLayout.DefaultRoot;

    /// <summary>
    /// Run each gang under <see cref="GangSupervisor"/> (<c>orchestrator gang-exec</c>), so it survives this silo's death and
    /// another silo can adopt it. <c>up</c> does; <c>run</c>'s gangs end with the CLI anyway.
    /// </summary>
    public bool SuperviseGangs { get; init; }

    /// <summary>Refuse run directories outside <see cref="RunsRoot"/>: a shared silo (<c>up</c>) writes only there;
    /// <c>run</c>'s silo is the user's own process and writes where the user says.</summary>
    public bool ConfineRunDirectories { get; init; }

    /// <summary>Variables every launched worker gets (test hooks such as a step delay); empty = none.</summary>
    public IReadOnlyDictionary<string, string> WorkerEnvironment { get; init; } = new Dictionary<string, string>();

    /// <summary>The silo's Prometheus endpoint; null or port 0 = none.</summary>
    public SiloMetricsOptions? Metrics { get; init; }

    /// <summary>The machine this silo offers as a node (it then starts Hydra proxies of gangs placed on it); null = none.</summary>
    public Config.NodeConfig? Node { get; init; }

    /// <summary>Mutual TLS on the silo and gateway ports (<see cref="Security.ClusterTls"/>); null = plain TCP.</summary>
    public Security.TlsCredentials? Tls { get; init; }

    /// <summary>The Kubernetes launcher's settings: a job's worker pods are the nodes of its gang; null = the local launcher.</summary>
    public Scheduler.Kubernetes.KubernetesLauncherOptions? Kubernetes { get; init; }

    /// <summary>
    /// Register the Orleans dashboard's silo side (its per-silo grain service and grain call profiler) so that a dashboard
    /// served by any silo of the cluster reports this one too. Every <c>up</c> silo does; <c>run</c>'s single silo does not.
    /// </summary>
    public bool ReportToDashboard { get; init; }

    /// <summary>Serve the dashboard's web pages here (<see cref="Dashboard.DashboardWebHost"/>); null = no web server.</summary>
    public IPEndPoint? Dashboard { get; init; }

    /// <summary>The gateway as <c>host:port</c>.</summary>
    public string Gateway => $"{Host}:{GatewayPort.ToString(CultureInfo.InvariantCulture)}";
}

/// <summary>
/// The one silo configuration shared by <see cref="EmbeddedSilo"/> and <c>orchestrator up</c>: clustering (localhost, or
/// Redis with failover-friendly membership timing), grain storage under <see cref="StorageNames"/> and reminders (memory, or
/// Redis), the scheduler's slot capacity, and the <c>local-mpi</c> launcher with the <see cref="JobRunner"/> that drives gangs.
/// Further silo-wide registrations (metrics, ...) belong in <see cref="Configure"/>.
/// </summary>
public static class SiloSetup
{
    /// <summary>
    /// The Orleans service id of the silos of cluster <paramref name="clusterId"/> (its clients and workers present it too).
    /// Orleans keys grain state and reminders in Redis by service id, so one per cluster keeps two clusters that share a
    /// Redis from seeing each other's jobs.
    /// </summary>
    public static string ServiceIdFor(string clusterId) => $"orchestrator/{clusterId}";

    /// <summary>The name of the command that runs a gang under <see cref="GangSupervisor"/> (hidden).</summary>
    public const string GangExecCommand = "gang-exec";

    /// <summary>A host running one silo with <paramref name="settings"/> (not started). Logging is off: the CLI prints what matters.</summary>
    public static IHost BuildHost(SiloSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Dashboard is { } dashboard) return Dashboard.DashboardWebHost.Build(settings, dashboard);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.UseOrleans(silo => Configure(silo, settings));
        return builder.Build();
    }

    /// <summary>Registers everything an orchestrator silo needs on <paramref name="silo"/>.</summary>
    public static void Configure(ISiloBuilder silo, SiloSettings settings)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.WorkerSlots < 1)
            throw new UserFacingException($"worker slots must be at least 1, got {settings.WorkerSlots}");

        silo.Configure<ClusterOptions>(o =>
        {
            o.ServiceId = ServiceIdFor(settings.ClusterId);
            o.ClusterId = settings.ClusterId;
        });
        silo.Configure<EndpointOptions>(o =>
        {
            o.AdvertisedIPAddress = settings.Host;
            o.SiloPort = settings.SiloPort;
            o.GatewayPort = settings.GatewayPort;
            var listen = settings.ListenAny ? IPAddress.Any : settings.Host;
            o.SiloListeningEndpoint = new IPEndPoint(listen, settings.SiloPort);
            o.GatewayListeningEndpoint = new IPEndPoint(listen, settings.GatewayPort);
        });
        if (settings.Redis is { } redis)
        {
            silo.UseRedisClustering(o => o.ConfigurationOptions = RedisOptions(redis));
            silo.AddRedisGrainStorage(StorageNames.Jobs, o => o.ConfigurationOptions = RedisOptions(redis));
            silo.AddRedisGrainStorage(StorageNames.Scheduler, o => o.ConfigurationOptions = RedisOptions(redis));
            silo.UseRedisReminderService(o => o.ConfigurationOptions = RedisOptions(redis));
            // A dead silo is evicted in about a second instead of 13-15 s, so its grains (and jobs) move on quickly.
            silo.Configure<ClusterMembershipOptions>(o =>
            {
                o.ProbeTimeout = TimeSpan.FromSeconds(1);
                o.NumMissedProbesLimit = 2;
                o.TableRefreshTimeout = TimeSpan.FromSeconds(2);
                o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(5);
            });
            silo.Services.AddHostedService<RedisLossWatchdog>(); // a Redis that restarts empty gets membership and state back
            silo.Services.AddHostedService<NodeWatcher>(); // a lost node's gangs restart elsewhere
        }
        else
        {
            silo.UseDevelopmentClustering(new IPEndPoint(settings.Host, settings.SiloPort));
            silo.AddMemoryGrainStorage(StorageNames.Jobs);
            silo.AddMemoryGrainStorage(StorageNames.Scheduler);
            silo.UseInMemoryReminderService();
        }
        silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(10));
        if (settings.Tls is { } tls) Security.ClusterTls.Configure(silo, tls);
        silo.Services.AddSingleton<IFatalErrorHandler, FatalErrorExit>(); // a silo declared dead says why in one line

        silo.Services.Configure<SchedulerOptions>(o => o.WorkerSlots = settings.WorkerSlots);
        silo.Services.AddSingleton<ActiveStoredStateGrains>();
        silo.Services.AddSingleton(sp => new SiloReadiness(sp.GetRequiredService<IClusterMembershipService>(),
            sp.GetRequiredService<ILocalSiloDetails>(), usesRedis: settings.Redis is not null));
        var entry = EntryAssemblyPath();
        var dotnet = DotnetHostPath();
        silo.Services.AddSingleton(new LocalMpiOptions(entry, dotnet,
            Supervisor: settings.SuperviseGangs ? [dotnet, entry, GangExecCommand] : null));
        if (settings.Kubernetes is { } kubernetes)
        {
            // Connected now, so missing credentials stop the silo at start with their cause, not a job later.
            var client = Scheduler.Kubernetes.KubernetesConnection.Connect(kubernetes);
            silo.Services.AddSingleton<IJobLauncher>(sp => new Scheduler.Kubernetes.KubernetesLauncher(kubernetes, client,
                new LocalMpiLauncher(sp.GetRequiredService<LocalMpiOptions>() with { LoopbackOnly = false }),
                new SchedulerNodeDirectory(sp.GetRequiredService<IGrainFactory>()), settings.Host.ToString()));
        }
        else
            silo.Services.AddSingleton<IJobLauncher>(sp => new LocalMpiLauncher(sp.GetRequiredService<LocalMpiOptions>()));
        LocalNode? localNode = settings.Node is { } node ? new LocalNode(node.Name, node.Address.ToString(), node.Interface) : null;
        silo.Services.AddSingleton(sp => new JobRunner(sp.GetRequiredService<IJobLauncher>(), Path.GetFullPath(settings.RunsRoot),
            gateway: settings.Gateway, clusterId: settings.ClusterId, workerEnvironment: settings.WorkerEnvironment, redis: settings.Redis,
            confineToRunsRoot: settings.ConfineRunDirectories, localNode: localNode));
        silo.AddPlacementDirector<NodeSiloPlacement, NodeSiloPlacementDirector>();
        if (settings.Node is { } offered)
        {
            // The proxies of gangs placed here; ranks they start inherit the interface to the other nodes.
            var proxyEnvironment = new Dictionary<string, string>(offered.WorkerEnvironment ?? System.Collections.Immutable.ImmutableSortedDictionary<string, string>.Empty);
            if (offered.Interface is { } iface) proxyEnvironment["UCX_NET_DEVICES"] = iface;
            silo.Services.AddSingleton(new NodeProxies(offered.Name, proxyEnvironment,
                offered.Labels.GetValueOrDefault(Scheduler.Kubernetes.WorkerManifests.NodeJobLabel)));
        }
        silo.AddOrchestratorMetrics(settings.Metrics);
        if (settings.ReportToDashboard || settings.Dashboard is not null) Dashboard.DashboardWebHost.Report(silo);
    }

    /// <summary>StackExchange.Redis options for <c>host:port</c>.</summary>
    public static ConfigurationOptions RedisOptions(string redis)
    {
        var options = ConfigurationOptions.Parse(redis);
        options.ConnectTimeout = 3000;
        options.AbortOnConnectFail = true; // fail at start-up with a message rather than wait for a server that is not there
        return options;
    }

    /// <summary>The <c>orchestrator.dll</c> of this installation (what workers, supervisors and emulated silos run).</summary>
    public static string EntryAssemblyPath() => Path.Combine(AppContext.BaseDirectory, "orchestrator.dll");

    /// <summary>The dotnet host running this CLI (the workers and the gang supervisor run the same <c>orchestrator.dll</c>).</summary>
    public static string DotnetHostPath()
    {
        var current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet") return current;
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        return !string.IsNullOrEmpty(host) && File.Exists(host) ? host : "dotnet";
    }
}
