using System.Net.Sockets;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestrator.Contracts;
using Orchestrator.Scheduler.Grains;
using Orchestrator.Scheduler.Launchers;
using Orchestrator.Silos.Telemetry;
using Orchestrator.Spec;
using Orleans.Configuration;

namespace Orchestrator.Silos.Hosting;

/// <summary>Settings of the in-process silo that <c>orchestrator run</c> starts.</summary>
public sealed class EmbeddedSiloOptions
{
    /// <summary>Worker slots the scheduler admits gangs against; defaults to the CPU count.</summary>
    public int WorkerSlots { get; set; } = Environment.ProcessorCount;

    /// <summary>Parent of the run directory of a job submitted without one (<c>runs/&lt;job&gt;</c>).</summary>
    public string RunsRoot { get; set; } = RunLayout.DefaultRoot;

    /// <summary>Variables every launched worker gets (test hooks such as a step delay); empty = none.</summary>
    public Dictionary<string, string> WorkerEnvironment { get; } = [];

    /// <summary>The silo's Prometheus endpoint (<see cref="SiloMetricsExtensions.AddOrchestratorMetrics"/>); null or port 0 = none.</summary>
    public SiloMetricsOptions? Metrics { get; set; }
}

/// <summary>
/// A single silo inside the CLI process: <see cref="SiloSetup"/> with localhost clustering on loopback (free ports, so
/// several <c>run</c>s can coexist), memory grain storage under <see cref="StorageNames"/>, the scheduler's slot
/// capacity (this machine registered as its one node) and the <c>local-mpi</c> launcher (<see cref="JobRunner"/> over <see cref="LocalMpiLauncher"/>).
/// Disposing it stops the silo and kills every gang still running.
/// </summary>
public sealed class EmbeddedSilo : IAsyncDisposable
{
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
        var settings = new SiloSettings
        {
            ClusterId = $"embedded-{Environment.ProcessId}",
            SiloPort = FreeLoopbackPort(),
            GatewayPort = FreeLoopbackPort(),
            WorkerSlots = options.WorkerSlots,
            RunsRoot = options.RunsRoot,
            WorkerEnvironment = options.WorkerEnvironment,
            Metrics = options.Metrics,
            Node = ThisMachine(options.WorkerSlots),
        };
        var host = SiloSetup.BuildHost(settings);
        try
        {
            await host.StartAsync(cancellation);
            await NodeRegistration.RegisterAsync(host.Services, settings.Node, settings.GatewayPort); // status and metrics show the one node
        }
        catch
        {
            host.Dispose();
            throw;
        }
        return new EmbeddedSilo(host, new IPEndPoint(settings.Host, settings.GatewayPort), settings.ClusterId);
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

    /// <summary>This machine as the embedded silo's one node: its host name (or <c>local</c>), loopback, the worker slots.</summary>
    private static Config.NodeConfig ThisMachine(int slots)
    {
        var name = Config.NodeConfig.IsValidName(Environment.MachineName) ? Environment.MachineName : "local";
        return new Config.NodeConfig(name, IPAddress.Loopback, slots, Config.NodeConfig.DetectGpus(),
            System.Collections.Immutable.ImmutableSortedDictionary<string, string>.Empty);
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
