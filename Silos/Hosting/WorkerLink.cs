using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestrator.Contracts.Grains;
using Orchestrator.Contracts.Models;
using Orchestrator.Scheduler.Launchers;
using Orchestrator.Trainer.Telemetry;
using Orchestrator.Trainer.Training;
using Orleans.Configuration;

namespace Orchestrator.Silos.Hosting;

/// <summary>
/// A worker's link to the control plane: an Orleans client of the silo gateway the launcher named
/// (<see cref="JobRunner.GatewayVariable"/> and friends), and a background loop that heartbeats the rank's worker grain
/// (<see cref="IWorkerGrain"/>, which forwards to the job grain) every second with the newest step and its time split
/// (fed by <see cref="Observer"/>) and keeps the directive of the reply for the training loop
/// (<see cref="TakeDirective"/>; only rank 0's is used, it broadcasts it at a step boundary). Every rank runs one (its own
/// client: fine for the handful of ranks of one machine). A failing heartbeat never stops training: it is reported
/// once on stderr and retried (the client reconnected) on the next beat.
/// </summary>
public sealed class WorkerLink : IAsyncDisposable
{
    /// <summary>Seconds between heartbeats.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);
    private readonly IPEndPoint gateway;
    private readonly string clusterId;
    private readonly string jobId;
    private readonly int launch;
    private readonly int rank;
    private readonly CancellationTokenSource stop = new();
    private readonly HeartbeatObserver observer = new();
    private readonly Task loop;
    private IHost? client;
    private int pending; // TrainerDirective
    private bool warned;

    private WorkerLink(IPEndPoint gateway, string clusterId, string jobId, int launch, int rank)
    {
        this.rank = rank;
        this.gateway = gateway;
        this.clusterId = clusterId;
        this.jobId = jobId;
        this.launch = launch;
        loop = Task.Run(LoopAsync);
    }

    /// <summary>Feeds the heartbeats: add it to the rank's training observers.</summary>
    public ITrainingObserver Observer => observer;

    /// <summary>Heartbeats answered so far (for tests and benchmarks).</summary>
    public int Beats { get; private set; }

    /// <summary>
    /// Starts the link when the launcher set the variables (a worker of an orchestrated job); null otherwise (a
    /// plain <c>train</c>). Returns at once: connecting happens in the background.
    /// </summary>
    public static WorkerLink? FromEnvironment(int rank = 0)
    {
        var gatewayText = Environment.GetEnvironmentVariable(JobRunner.GatewayVariable);
        var job = Environment.GetEnvironmentVariable(JobRunner.JobVariable);
        if (string.IsNullOrEmpty(gatewayText) || string.IsNullOrEmpty(job)) return null;
        if (!IPEndPoint.TryParse(gatewayText, out var endpoint))
        {
            Console.Error.WriteLine($"worker link (rank {rank}): {JobRunner.GatewayVariable}='{gatewayText}' is not host:port; training without heartbeats");
            return null;
        }
        var launch = LaunchFromEnvironment();
        var cluster = Environment.GetEnvironmentVariable(JobRunner.ClusterVariable);
        return new WorkerLink(endpoint, string.IsNullOrEmpty(cluster) ? "dev" : cluster, job, launch, rank);
    }

    /// <summary>The launch number the control plane gave this gang (<see cref="JobRunner.LaunchVariable"/>); 1 when started by hand.</summary>
    public static int LaunchFromEnvironment() =>
        int.TryParse(Environment.GetEnvironmentVariable(JobRunner.LaunchVariable), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 1;

    /// <summary>Takes the pending directive (None when there is none); Stop stays pending once received.</summary>
    public TrainerDirective TakeDirective()
    {
        var directive = (TrainerDirective)Volatile.Read(ref pending);
        if (directive == TrainerDirective.Checkpoint)
            Interlocked.CompareExchange(ref pending, (int)TrainerDirective.None, (int)TrainerDirective.Checkpoint);
        return directive;
    }

    /// <summary>The control plane's directive as the trainer's own type.</summary>
    public static TrainerDirective Translate(WorkerDirective directive) => directive switch
    {
        WorkerDirective.None => TrainerDirective.None,
        WorkerDirective.Stop => TrainerDirective.Stop,
        WorkerDirective.Checkpoint => TrainerDirective.Checkpoint,
        _ => throw new ArgumentOutOfRangeException(nameof(directive), directive, "unknown control-plane directive"),
    };

    private async Task LoopAsync()
    {
        using var timer = new PeriodicTimer(Interval);
        do
        {
            if (observer.Snapshot(launch, rank) is not { } beat) continue; // training has not started yet
            try
            {
                client ??= await ConnectAsync().ConfigureAwait(false);
                var grain = client.Services.GetRequiredService<IClusterClient>().GetGrain<IWorkerGrain>(IWorkerGrain.Key(jobId, rank));
                var directive = Translate(await grain.HeartbeatAsync(beat).WaitAsync(CallTimeout, stop.Token).ConfigureAwait(false));
                Beats++;
                if (directive != TrainerDirective.None && (TrainerDirective)Volatile.Read(ref pending) != TrainerDirective.Stop)
                    Volatile.Write(ref pending, (int)directive);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                if (!warned)
                {
                    warned = true;
                    var why = await TlsCauseAsync().ConfigureAwait(false) ?? $"{e.GetType().Name}: {e.Message.Split('\n', 2)[0].Trim()}";
                    Console.Error.WriteLine($"worker link (rank {rank}): heartbeat to {gateway} failed ({why}); training continues, retrying every {Interval.TotalSeconds:0} s");
                }
                await DropClientAsync().ConfigureAwait(false);
            }
        }
        while (await WaitAsync(timer).ConfigureAwait(false));
    }

    /// <summary>Whether TLS is why the gateway cannot be reached (a certificate refused either way, TLS on one side only), in words.</summary>
    private async Task<string?> TlsCauseAsync()
    {
        try
        {
            var paths = Security.TlsPaths.ForClient(null, null, null, Environment.GetEnvironmentVariable);
            if (paths is not null)
                return await Security.TlsProbe.ProblemAsync(gateway, Security.TlsCredentials.Load(paths), CallTimeout).ConfigureAwait(false);
            return await Security.TlsProbe.RequiresTlsAsync(gateway, CallTimeout).ConfigureAwait(false)
                ? $"the gateway requires mutual TLS and this worker has no certificate (${Security.TlsPaths.CertificateVariable}, ${Security.TlsPaths.KeyVariable}, ${Security.TlsPaths.CaVariable} are not set)"
                : null;
        }
        catch (Orchestrator.Spec.UserFacingException e)
        {
            return e.Message; // a certificate file the worker cannot use
        }
    }

    private async Task<bool> WaitAsync(PeriodicTimer timer)
    {
        try { return await timer.WaitForNextTickAsync(stop.Token).ConfigureAwait(false); }
        catch (OperationCanceledException) { return false; }
    }

    private async Task<IHost> ConnectAsync()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        // In a Redis cluster the gateway list comes from Redis membership, so a worker reaches a live silo when its own dies.
        var redis = Environment.GetEnvironmentVariable(JobRunner.RedisVariable);
        // The launching silo passes its TLS paths (ORCHESTRATOR_TLS_*) when the cluster uses mutual TLS.
        var tls = Security.TlsPaths.ForClient(null, null, null, Environment.GetEnvironmentVariable) is { } paths ? Security.TlsCredentials.Load(paths) : null;
        builder.UseOrleansClient(c =>
        {
            if (tls is not null) Security.ClusterTls.Configure(c, tls);
            if (string.IsNullOrEmpty(redis))
                c.UseStaticClustering(gateway);
            else
            {
                c.UseRedisClustering(o => o.ConfigurationOptions = SiloSetup.RedisOptions(redis));
                c.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(2));
            }
            c.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = clusterId;
                o.ServiceId = SiloSetup.ServiceIdFor(clusterId);
            });
            c.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = CallTimeout);
        });
        var host = builder.Build();
        try
        {
            await host.StartAsync(stop.Token).WaitAsync(CallTimeout, stop.Token).ConfigureAwait(false);
            return host;
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    private async Task DropClientAsync()
    {
        var old = client;
        client = null;
        if (old is null) return;
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try { await old.StopAsync(limit.Token).ConfigureAwait(false); }
        catch (Exception) { } // best effort: the gateway is gone anyway
        old.Dispose();
    }

    /// <summary>Stops the heartbeats and the client (a second or two at most).</summary>
    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync().ConfigureAwait(false);
        try { await loop.WaitAsync(TimeSpan.FromSeconds(3)).ConfigureAwait(false); }
        catch (TimeoutException) { }
        await DropClientAsync().ConfigureAwait(false);
        stop.Dispose();
    }

    /// <summary>Keeps the newest step's numbers for the heartbeat loop (called on the training thread).</summary>
    private sealed class HeartbeatObserver : ITrainingObserver
    {
        private readonly Lock gate = new();
        private bool started;
        private long step;
        private double samplesPerSecond;
        private double loss = double.NaN;
        private double stepSeconds;
        private double computeSeconds;
        private double compressionSeconds;
        private double communicationSeconds;
        private WorkerActivity activity;
        private long activitySince = Stopwatch.GetTimestamp();

        public WorkerHeartbeat? Snapshot(int launch, int rank)
        {
            lock (gate)
                return started
                    ? new WorkerHeartbeat(launch, step, samplesPerSecond, loss, stepSeconds, Environment.ProcessId, rank,
                        computeSeconds, compressionSeconds, communicationSeconds, activity, Stopwatch.GetElapsedTime(activitySince).TotalSeconds)
                    : null;
        }

        public void OnStart(TrainingPlan plan)
        {
            lock (gate)
            {
                started = true;
                step = plan.StartStep;
            }
        }

        public void OnStep(StepRecord record)
        {
            lock (gate)
            {
                step = record.Step;
                loss = record.Loss;
                stepSeconds = record.Seconds;
                samplesPerSecond = record.Seconds > 0 ? record.Samples / record.Seconds : 0;
                computeSeconds = record.ComputeSeconds;
                compressionSeconds = record.CompressionSeconds;
                communicationSeconds = record.CommunicationSeconds;
            }
        }

        public void OnEvaluation(EvalRecord evaluation) { }

        public void OnActivity(TrainingActivity now)
        {
            lock (gate)
            {
                activity = now switch
                {
                    TrainingActivity.Evaluating => WorkerActivity.Evaluating,
                    TrainingActivity.Checkpointing => WorkerActivity.Checkpointing,
                    TrainingActivity.Training => WorkerActivity.Training,
                };
                activitySince = Stopwatch.GetTimestamp();
            }
        }

        public void OnNotice(string message) { }
    }
}
