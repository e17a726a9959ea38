using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestrator.Contracts;
using Orchestrator.Scheduler.Grains;
using Orchestrator.Scheduler.Launchers;
using Orchestrator.Silos.Telemetry;
using Orleans.Configuration;

namespace Orchestrator.Silos.Hosting;

/// <summary>Settings of the in-process silo that <c>orchestrator run</c> starts.</summary>
public sealed class EmbeddedSiloOptions
{
    /// <summary>Worker slots the scheduler admits gangs against; defaults to the CPU count.</summary>
    public int WorkerSlots { get; set; } = Environment.ProcessorCount;

    /// <summary>Parent of the run directory of a job submitted without one (<c>runs/&lt;job&gt;</c>).</summary>
    public string RunsRoot { get; set; } = "runs";

    /// <summary>Variables every launched worker gets (test hooks such as a step delay); empty = none.</summary>
    public Dictionary<string, string> WorkerEnvironment { get; } = [];

    /// <summary>The silo's Prometheus endpoint (<see cref="SiloMetricsExtensions.AddOrchestratorMetrics"/>); null or port 0 = none.</summary>
    public SiloMetricsOptions? Metrics { get; set; }
}

/// <summary>
/// A single silo inside the CLI process: localhost clustering on loopback (free ports, so several
/// <c>run</c>s can coexist), memory grain storage under <see cref="StorageNames"/>, the scheduler's slot
/// capacity and the <c>local-mpi</c> launcher (<see cref="JobRunner"/> over <see cref="LocalMpiLauncher"/>).
/// Disposing it stops the silo and kills every gang still running.
/// </summary>
public sealed class EmbeddedSilo : IAsyncDisposable
{
    /// <summary>The Orleans service id of every orchestrator silo (workers' clients present it too).</summary>
    public const string ServiceId = "orchestrator";

    private readonly IHost host;

    private EmbeddedSilo(IHost host, IPEndPoint gateway, string clusterId)
    {
        this.host = host;
        Gateway = gateway;
        ClusterId = clusterId;
    }

    /// <summary>The silo's gateway on loopback (what workers' clients connect to).</summary>
    public IPEndPoint Gateway { get; }

    /// <summary>The cluster id a client must present to <see cref="Gateway"/>.</summary>
    public string ClusterId { get; }

    /// <summary>The client of the in-process silo.</summary>
    public IClusterClient Client => host.Services.GetRequiredService<IClusterClient>();

    /// <summary>Starts the silo (about a second) and returns once it accepts calls.</summary>
    public static async Task<EmbeddedSilo> StartAsync(EmbeddedSiloOptions options, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.WorkerSlots < 1)
            throw new UserFacingException($"worker slots must be at least 1, got {options.WorkerSlots}");
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders(); // the CLI shows the job, not the silo's log
        int siloPort = FreeLoopbackPort(), gatewayPort = FreeLoopbackPort();
        var clusterId = $"embedded-{Environment.ProcessId}";
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(siloPort, gatewayPort, serviceId: ServiceId, clusterId: clusterId);
            silo.Configure<EndpointOptions>(o =>
            {
                o.AdvertisedIPAddress = IPAddress.Loopback;
                o.SiloListeningEndpoint = new IPEndPoint(IPAddress.Loopback, siloPort);
                o.GatewayListeningEndpoint = new IPEndPoint(IPAddress.Loopback, gatewayPort);
            });
            silo.AddMemoryGrainStorage(StorageNames.Jobs);
            silo.AddMemoryGrainStorage(StorageNames.Scheduler);
            silo.Services.Configure<SchedulerOptions>(o => o.WorkerSlots = options.WorkerSlots);
            silo.Services.AddSingleton(new LocalMpiOptions(Path.Combine(AppContext.BaseDirectory, "orchestrator.dll"), DotnetHost()));
            silo.Services.AddSingleton<IJobLauncher>(sp => new LocalMpiLauncher(sp.GetRequiredService<LocalMpiOptions>()));
            silo.Services.AddSingleton(sp => new JobRunner(sp.GetRequiredService<IJobLauncher>(), Path.GetFullPath(options.RunsRoot),
                gateway: $"{IPAddress.Loopback}:{gatewayPort}", clusterId: clusterId, workerEnvironment: options.WorkerEnvironment));
            silo.AddOrchestratorMetrics(options.Metrics);
        });
        var host = builder.Build();
        try
        {
            await host.StartAsync(cancellation);
        }
        catch
        {
            host.Dispose();
            throw;
        }
        return new EmbeddedSilo(host, new IPEndPoint(IPAddress.Loopback, gatewayPort), clusterId);
    }

    /// <summary>Stops the silo (a few seconds at most) and kills any gang still running.</summary>
    public async ValueTask DisposeAsync()
    {
        using (var limit = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            try { await host.StopAsync(limit.Token); }
            catch (OperationCanceledException) { }
        }
        host.Dispose(); // disposes the JobRunner singleton: kills remaining process groups
    }

    /// <summary>The dotnet host running this CLI (the workers run the same <c>orchestrator.dll</c>).</summary>
    private static string DotnetHost()
    {
        var current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet") return current;
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        return !string.IsNullOrEmpty(host) && File.Exists(host) ? host : "dotnet";
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
