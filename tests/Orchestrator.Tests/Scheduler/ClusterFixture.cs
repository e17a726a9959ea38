using Orchestrator.Contracts;
using Orchestrator.Scheduler.Grains;
using Orchestrator.Scheduler.Launchers;
using Orchestrator.Tests.ControlPlane;
using Orleans.TestingHost;
using Microsoft.Extensions.DependencyInjection;

namespace Orchestrator.Tests.Scheduler;

/// <summary>
/// Two in-process silos with memory grain storage under the names the grains use, and a scheduler
/// configured with <see cref="WorkerSlots"/> slots; job grains launch through a <see cref="FakeLauncher"/>. Shared by every grain test; each test uses fresh keys.
/// </summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    /// <summary>Configured worker-slot capacity of the test scheduler.</summary>
    public const int WorkerSlots = 4;

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public IClusterClient Client => Cluster.Client;

    /// <summary>The launcher every silo's runner uses: gangs the tests end themselves, no processes.</summary>
    public FakeLauncher Launcher { get; } = new();

    /// <summary>Parent of default run directories.</summary>
    internal TempDirectory Runs { get; } = new();

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(2);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddMemoryGrainStorage(StorageNames.Jobs);
            silo.AddMemoryGrainStorage(StorageNames.Scheduler);
            silo.Services.Configure<SchedulerOptions>(o => o.WorkerSlots = WorkerSlots);
            silo.Services.AddSingleton(new JobRunner(Launcher, Runs.Path)); // job grains start pretend gangs
            silo.Services.AddSingleton<ActiveStoredStateGrains>();
        });
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        Runs.Dispose();
    }

    /// <summary>A key no other test uses.</summary>
    public static string FreshKey(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 13, 40)];
}

/// <summary>The xunit collection that shares one <see cref="ClusterFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "Orleans cluster";
}
