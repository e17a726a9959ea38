using System.CommandLine;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orchestrator.Scheduler.Launchers;
using Orchestrator.Silos.Config;
using Orchestrator.Silos.Terminal;
using Orchestrator.Silos.Hosting;
using Orchestrator.Silos.Security;
using Orchestrator.Silos.Telemetry;
using Orchestrator.Spec;
using Spectre.Console;

namespace Orchestrator.Silos.Commands;

/// <summary>
/// <c>orchestrator up [--config FILE] [--host ADDRESS]</c>: a long-running silo. Without <c>cluster.redis</c> it is a cluster of one (localhost
/// clustering, memory storage); with it, every <c>up</c> of the same Redis and cluster id joins one cluster (Redis
/// membership, job and scheduler state, reminders), and a job whose silo dies carries on under another one. Runs until
/// Ctrl+C or SIGTERM: then it stops the silo and kills the gangs it launched (a SIGKILLed silo leaves them running for the
/// cluster to adopt). Exit 0 after a stop, 2 for a bad config or a silo that cannot start (port taken, Redis unreachable).
/// </summary>
public static class UpCommand
{
    /// <summary>Builds the <c>up</c> command.</summary>
    public static Command Create()
    {
        var config = new Option<FileInfo?>("--config") { Description = "Silo config (YAML): cluster {id, redis}, silo {host, port, gateway_port}, node {name, address, slots, gpus, labels}, slots, runs_root, tls {certificate, key, ca}, dashboard {enabled, address, port}" };
        var host = new Option<string?>("--host")
        {
            Description = "The address the silo binds and advertises, replacing silo.host (on Kubernetes: --host $(POD_IP))",
        };
        var command = new Command("up", "Start a long-running silo (Redis: several silos form one cluster); Ctrl+C stops it") { config, host };
        command.SetAction(parse => CommandGuard.Run(() => Execute(parse.GetValue(config), parse.GetValue(host))));
        return command;
    }

    private static int Execute(FileInfo? configFile, string? hostText)
    {
        IPAddress? host = null;
        if (hostText is not null && !IPAddress.TryParse(hostText, out host))
            throw new UserFacingException($"--host: expected an IP address (e.g. 10.0.0.5), got '{hostText}'");
        var config = configFile is not null ? SiloConfigLoader.LoadFile(configFile.FullName, host)
            : host is null ? SiloConfig.Default : SiloConfigLoader.Parse("", "(defaults)", host);
        return RunAsync(config).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(SiloConfig config)
    {
        if (config.Node is { } declared && NodeAddressCheck.NotLocal(declared.Address) is { } problem)
            throw new UserFacingException($"node.address: {problem}");
        var tls = LoadTls(config);
        if (PlainTextExposure.Warning(config) is { } warning)
            Console.Error.WriteLine(warning);
        if (Dashboard.DashboardExposure.Warning(config) is { } dashboardWarning)
            Console.Error.WriteLine(dashboardWarning);
        if (config.Dashboard is { } wanted && Dashboard.DashboardPortCheck.Problem(wanted) is { } portProblem)
            throw new UserFacingException(portProblem);
        var workerEnvironment = new Dictionary<string, string>(config.Node?.WorkerEnvironment ?? System.Collections.Immutable.ImmutableSortedDictionary<string, string>.Empty);
        if (config.Tls is { } paths)
            foreach (var (name, value) in paths.ToEnvironment()) workerEnvironment[name] = value; // workers and node-exec connect with the silo's certificate
        var settings = new SiloSettings
        {
            ClusterId = config.ClusterId,
            Host = config.Host,
            ListenAny = config.ListenAny,
            SiloPort = config.SiloPort,
            GatewayPort = config.GatewayPort,
            Redis = config.Redis,
            WorkerSlots = config.Slots,
            RunsRoot = config.RunsRoot,
            SuperviseGangs = true,
            ConfineRunDirectories = true,
            Metrics = new SiloMetricsOptions { Port = config.MetricsPort, Host = config.Host.ToString() },
            Node = config.Node,
            WorkerEnvironment = workerEnvironment,
            Tls = tls,
            Kubernetes = config.Kubernetes,
            ReportToDashboard = true,
            Dashboard = config.Dashboard?.Endpoint,
        };
        // The silo's own warnings (a lost Redis record written back, an exit code that could not be reported) go to
        // standard error, where a service manager's journal keeps them; Orleans' own logging stays off.
        System.Diagnostics.Trace.Listeners.Add(new System.Diagnostics.ConsoleTraceListener(useErrorStream: true));
        var host = SiloSetup.BuildHost(settings);
        try
        {
            await host.StartAsync();
        }
        catch (Exception e) when (e is not UserFacingException)
        {
            host.Dispose();
            var where = $"{config.Host}:{config.SiloPort} (gateway {config.GatewayPort})";
            throw new UserFacingException($"cannot start the silo on {where}: {Innermost(e).Message}" +
                (config.Redis is null ? "" : $" (is Redis running at {config.Redis}?)"), e);
        }
        if (config.Node is { } node)
        {
            try
            {
                await NodeRegistration.RegisterAsync(host.Services, node, config.GatewayPort);
            }
            catch (UserFacingException)
            {
                using var stopLimit = new CancellationTokenSource(StopLimit);
                try { await host.StopAsync(stopLimit.Token); }
                catch (OperationCanceledException) { }
                host.Dispose();
                throw;
            }
        }
        var storage = config.Redis is null ? "single silo, memory storage" : $"redis {config.Redis}";
        AnsiConsole.MarkupLineInterpolated(
            $"silo up: cluster {config.ClusterId}, silo {config.Host}:{config.SiloPort}, gateway {settings.Gateway} ({storage}); {config.Slots} worker slots; runs in {Path.GetFullPath(config.RunsRoot)}");
        if (config.Dashboard is { } dashboard)
            AnsiConsole.MarkupLineInterpolated($"dashboard: {dashboard.Url}");
        if (config.Node is { } offered)
            AnsiConsole.MarkupLineInterpolated($"node {offered.Name} at {offered.Address}: {offered.Slots} slots, {offered.Gpus} GPUs");
        if (config.Kubernetes is { } kubernetes)
            AnsiConsole.MarkupLineInterpolated(
                $"launcher kubernetes: each job's worker pods in namespace {kubernetes.Namespace} (image {kubernetes.Image}, {kubernetes.RanksPerPod} rank(s) per pod) are its nodes");
        AnsiConsole.MarkupLine("press Ctrl+C (or send SIGTERM) to stop; gangs of this silo are killed then");
        // The host's console lifetime turns Ctrl+C and SIGTERM into a stop request.
        var stopping = new TaskCompletionSource();
        using (host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(() => stopping.TrySetResult()))
            await stopping.Task;
        AnsiConsole.MarkupLine("stopping: leaving the cluster, killing this silo's gangs");
        // Bounded: a silo whose Redis is gone cannot write its goodbye and would otherwise wait for minutes.
        using var limit = new CancellationTokenSource(StopLimit);
        var stop = host.StopAsync(limit.Token);
        var stopped = await Task.WhenAny(stop, Task.Delay(StopLimit + TimeSpan.FromSeconds(5))) == stop && stop.IsCompletedSuccessfully;
        host.Services.GetService<JobRunner>()?.Dispose(); // kills the gangs this silo still runs
        host.Services.GetService<NodeProxies>()?.Dispose(); // and the proxies (with their ranks) of gangs launched elsewhere
        if (stopped)
        {
            host.Dispose();
            AnsiConsole.MarkupLine("silo stopped");
        }
        else
        {
            AnsiConsole.MarkupLine($"[yellow]silo stopped without leaving the cluster cleanly (not done within {StopLimit.TotalSeconds:0} s)[/]");
            Environment.Exit(0); // whatever still hangs in the silo must not keep the process alive
        }
        return 0;
    }

    /// <summary>
    /// The silo's TLS material, loaded and checked before anything starts: its certificate must be valid now for its own
    /// authority, for both directions (a silo accepts connections and connects to other silos).
    /// </summary>
    private static TlsCredentials? LoadTls(SiloConfig config)
    {
        if (config.Tls is not { } paths) return null;
        var tls = TlsCredentials.Load(paths);
        var problems = new[] { CertificatePurpose.Server, CertificatePurpose.Client }
            .Select(purpose => tls.OwnCertificateProblem(DateTime.UtcNow, purpose)).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
        if (problems.Count > 0)
            throw new UserFacingException($"{paths.Names.Certificate} {paths.Certificate} ({PeerCertificateCheck.Describe(tls.Certificate)}): {string.Join("; ", problems)}; " +
                $"every peer would refuse it (a silo's certificate must come from {paths.Names.Ca} and allow TLS server and client authentication)");
        return tls;
    }

    /// <summary>How long a stop may take before the process leaves anyway (the others then evict this silo as dead).</summary>
    private static readonly TimeSpan StopLimit = TimeSpan.FromSeconds(10);

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }
}
