using System.Net.Sockets;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestrator.Silos.Security;
using Orchestrator.Spec;
using Orleans.Configuration;
using Orleans.Runtime;

namespace Orchestrator.Silos.Hosting;

/// <summary>Where a CLI client finds the cluster: one gateway (<c>--silo</c>), or the gateway list in Redis (<c>--redis</c>).</summary>
/// <param name="Silo">A silo gateway <c>host:port</c>; used when <paramref name="Redis"/> is null.</param>
/// <param name="Redis">The cluster's Redis <c>host:port</c>: any live silo's gateway is used.</param>
/// <param name="ClusterId">The cluster id of the silos.</param>
/// <param name="Tls">This client's mutual-TLS material (<c>--tls-cert</c>, ...); null = plain TCP.</param>
public sealed record ClusterTarget(string Silo, string? Redis, string ClusterId, Security.TlsPaths? Tls = null)
{
    /// <summary>Where the client connects, for messages.</summary>
    public string Describe() => Redis is null ? $"the silo gateway at {Silo}" : $"a gateway of cluster '{ClusterId}' (Redis {Redis})";
}

/// <summary>
/// An Orleans client of an orchestrator cluster for the CLI's client commands. A gateway that does not accept a TCP
/// connection is reported within <see cref="ProbeTimeout"/> (at once when refused), not after a 30 s hang; once it
/// accepted, starting the client and every call are bounded by <see cref="CallTimeout"/>, which leaves room for a
/// loaded machine (a cold client start takes seconds when its cores are busy training).
/// </summary>
public sealed partial class ClusterConnection : IAsyncDisposable
{
    /// <summary>Limit of the TCP probe of the gateway.</summary>
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Limit of starting the client and of each grain call, once the gateway accepted a connection.</summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(20);

    private readonly IHost host;
    private readonly ClusterTarget target;
    private readonly UndeliveredCallRetry reads = new(UndeliveredCallRetry.DefaultRideOut);

    private ClusterConnection(IHost host, ClusterTarget target)
    {
        this.host = host;
        this.target = target;
    }

    /// <summary>The connected client.</summary>
    public IClusterClient Client => host.Services.GetRequiredService<IClusterClient>();

    /// <summary>Connects to <paramref name="target"/>.</summary>
    /// <exception cref="UserFacingException">The address is malformed, nothing answers there within <see cref="CallTimeout"/>,
    /// or the gateway and this client refuse each other's TLS certificates (the message names the cause).</exception>
    public static async Task<ClusterConnection> ConnectAsync(ClusterTarget target)
    {
        ArgumentNullException.ThrowIfNull(target);
        var tls = target.Tls is { } paths ? TlsCredentials.Load(paths) : null;
        IPEndPoint? gateway = null;
        if (target.Redis is null)
            gateway = ResolveGateway(target.Silo);
        if (gateway is not null)
            await ProbeAsync(gateway, target);
        var retries = new TlsAwareRetryFilter(gateway, tls, ProbeTimeout);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.UseOrleansClient(c =>
        {
            if (gateway is not null)
                c.UseStaticClustering(gateway);
            else
                c.UseRedisClustering(o => o.ConfigurationOptions = SiloSetup.RedisOptions(target.Redis!));
            if (tls is not null) ClusterTls.Configure(c, tls);
            c.UseConnectionRetryFilter(retries);
            c.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = target.ClusterId;
                o.ServiceId = SiloSetup.ServiceIdFor(target.ClusterId);
            });
            c.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = CallTimeout);
        });
        var host = builder.Build();
        try
        {
            using var limit = new CancellationTokenSource(CallTimeout);
            await host.StartAsync(limit.Token).WaitAsync(CallTimeout + TimeSpan.FromSeconds(1));
            return new ClusterConnection(host, target);
        }
        catch (Exception e) when (e is not UserFacingException)
        {
            host.Dispose();
            if (retries.Cause is { } cause)
                throw new UserFacingException($"cannot connect to {target.Describe()}: {cause}", e);
            var why = e is TimeoutException or OperationCanceledException ? $"no answer within {CallTimeout.TotalSeconds:0} s" : Innermost(e).Message;
            throw new UserFacingException($"cannot reach {target.Describe()}: {why} (is `orchestrator up` running there? see --silo, --redis, --cluster)", e);
        }
    }

    /// <summary>
    /// Runs a grain call, turning the grains' answers to user mistakes (unknown job, illegal transition, out-of-range
    /// worker count) and an unanswered call into one-line <see cref="UserFacingException"/>s.
    /// </summary>
    /// <param name="call">The call.</param>
    /// <param name="jobId">The job the call is about, named in messages that do not name it themselves.</param>
    public Task<T> CallAsync<T>(Func<IClusterClient, Task<T>> call, string? jobId = null)
    {
        ArgumentNullException.ThrowIfNull(call);
        return InterpretAsync(() => Bounded(call), jobId);
    }

    /// <summary>
    /// Like <see cref="CallAsync{T}"/> for a call that only reads: while the silo hosting its grain is lost and not yet
    /// evicted, the call is retried (<see cref="UndeliveredCallRetry"/>), so <c>status --watch</c> and <c>logs</c> ride
    /// out a node loss instead of failing on it.
    /// </summary>
    /// <param name="read">The call; it must change nothing.</param>
    /// <param name="jobId">The job the call is about, named in messages that do not name it themselves.</param>
    public Task<T> ReadAsync<T>(Func<IClusterClient, Task<T>> read, string? jobId = null)
    {
        ArgumentNullException.ThrowIfNull(read);
        return InterpretAsync(() => reads.RunAsync(() => Bounded(read)), jobId);
    }

    private Task<T> Bounded<T>(Func<IClusterClient, Task<T>> call) => call(Client).WaitAsync(CallTimeout + TimeSpan.FromSeconds(1));

    private async Task<T> InterpretAsync<T>(Func<Task<T>> call, string? jobId)
    {
        try
        {
            return await call();
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            var message = ParameterSuffix().Replace(FirstLine(e.Message), "");
            if (jobId is not null && !message.Contains($"'{jobId}'", StringComparison.Ordinal))
                message = $"job '{jobId}': {message}";
            throw new UserFacingException(message, e);
        }
        catch (Exception e) when (e is TimeoutException or OrleansException)
        {
            throw new UserFacingException($"{target.Describe()} did not answer: {FirstLine(Innermost(e).Message)}", e);
        }
    }

    /// <summary>Closes the connection (a second at most).</summary>
    public async ValueTask DisposeAsync()
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try { await host.StopAsync(limit.Token); }
        catch (Exception) { } // best effort: the process exits next
        host.Dispose();
    }

    /// <summary>A plain TCP connect first: a refused or unroutable gateway is reported at once, with the socket's reason.</summary>
    private static async Task ProbeAsync(IPEndPoint gateway, ClusterTarget target)
    {
        using var socket = new Socket(gateway.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        using var limit = new CancellationTokenSource(ProbeTimeout);
        try
        {
            await socket.ConnectAsync(gateway, limit.Token);
        }
        catch (OperationCanceledException e)
        {
            throw new UserFacingException($"cannot reach {target.Describe()}: no answer within {ProbeTimeout.TotalSeconds:0} s (is `orchestrator up` running there?)", e);
        }
        catch (SocketException e)
        {
            throw new UserFacingException($"cannot reach {target.Describe()}: {e.Message} (is `orchestrator up` running there? see --silo, --redis)", e);
        }
    }

    private static IPEndPoint ResolveGateway(string silo)
    {
        if (!Silos.Config.SiloConfigLoader.TryParseEndpoint(silo, out var endpoint))
            throw new UserFacingException($"--silo: expected host:port, got '{silo}'");
        if (IPAddress.TryParse(endpoint.Host, out var address))
            return new IPEndPoint(address, endpoint.Port);
        try
        {
            var addresses = Dns.GetHostAddresses(endpoint.Host);
            var chosen = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
                ?? throw new UserFacingException($"--silo: '{endpoint.Host}' has no address");
            return new IPEndPoint(chosen, endpoint.Port);
        }
        catch (SocketException e)
        {
            throw new UserFacingException($"--silo: cannot resolve '{endpoint.Host}': {e.Message}", e);
        }
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"\s*\(Parameter '[^']*'\)$")]
    private static partial System.Text.RegularExpressions.Regex ParameterSuffix();

    private static string FirstLine(string message)
    {
        var end = message.IndexOf('\n', StringComparison.Ordinal);
        return (end < 0 ? message : message[..end]).Trim();
    }
}
