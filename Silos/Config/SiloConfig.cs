using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Text;
using Orchestrator.Spec;
using YamlDotNet.RepresentationModel;

namespace Orchestrator.Silos.Config;

/// <summary>
/// What <c>orchestrator up</c> reads from its <c>--config</c> YAML file. Every key has a default, so an empty
/// file (or no file) is a single loopback silo with memory storage.
/// </summary>
/// <param name="ClusterId">Orleans cluster id (<c>cluster.id</c>); silos and clients of one cluster share it.</param>
/// <param name="Redis">Redis server (<c>host:port</c>, <c>cluster.redis</c>) for membership, grain state and reminders;
/// null = a single silo with localhost clustering and memory storage.</param>
/// <param name="Host">The address the silo binds and advertises (<c>silo.host</c>; loopback by default).</param>
/// <param name="SiloPort">Silo-to-silo port (<c>silo.port</c>).</param>
/// <param name="GatewayPort">Client gateway port (<c>silo.gateway_port</c>): what <c>submit</c>, <c>status</c> and the workers connect to.</param>
/// <param name="Slots">Worker slots the scheduler admits gangs against (<c>slots</c>; default: the CPU count).</param>
/// <param name="RunsRoot">Parent of the run directory of a job submitted without <c>--out</c> (<c>runs_root</c>).</param>
/// <param name="MetricsPort">The silo's Prometheus port (<c>metrics_port</c>; the next free one up to 9 above when taken, logged; 0 = none).</param>
/// <param name="Node">The machine this silo offers as a node (<c>node</c>); null = none (a single-machine cluster).</param>
/// <param name="Tls">Mutual TLS on the silo and gateway ports (<c>tls: { certificate, key, ca }</c>); null = plain TCP.</param>
/// <param name="Kubernetes">The Kubernetes launcher's settings (<c>launcher: { kind: kubernetes, ... }</c>); null = the local launcher.</param>
/// <param name="ListenAny">Listen on every address of the machine (or pod) while advertising <paramref name="Host"/>
/// (<c>silo.listen_any</c>): on Kubernetes, so <c>kubectl port-forward</c> (which connects to the pod's loopback) reaches the
/// gateway; false = bind <paramref name="Host"/> only.</param>
/// <param name="Dashboard">Where this silo serves the Orleans dashboard (<c>dashboard: { enabled, address, port }</c>); null = nowhere.</param>
public sealed record SiloConfig(string ClusterId, string? Redis, IPAddress Host, int SiloPort, int GatewayPort, int Slots, string RunsRoot,
    int MetricsPort = SiloConfig.DefaultMetricsPort, NodeConfig? Node = null, Security.TlsPaths? Tls = null,
    Scheduler.Kubernetes.KubernetesLauncherOptions? Kubernetes = null, bool ListenAny = false, Dashboard.DashboardConfig? Dashboard = null)
{
    /// <summary>The default silo metrics port (below the trainers' 9400 + rank).</summary>
    public const int DefaultMetricsPort = 9390;

    /// <summary>The cluster id when none is configured; also the CLI client's default.</summary>
    public const string DefaultClusterId = "orchestrator";

    /// <summary>The default silo-to-silo port.</summary>
    public const int DefaultSiloPort = 11111;

    /// <summary>The default gateway port (also the clients' default <c>--silo 127.0.0.1:30000</c>).</summary>
    public const int DefaultGatewayPort = 30000;

    /// <summary>Every default: one loopback silo, memory storage.</summary>
    public static SiloConfig Default { get; } = new(DefaultClusterId, null, IPAddress.Loopback, DefaultSiloPort, DefaultGatewayPort,
        Environment.ProcessorCount, RunLayout.DefaultRoot);
}

/// <summary>A silo config file that cannot be used: every problem at once, each naming the field and line.</summary>
public sealed class SiloConfigException(string sourceName, IReadOnlyList<SpecError> errors)
    : UserFacingException(Format(sourceName, errors))
{
    /// <summary>All problems, in file order.</summary>
    public IReadOnlyList<SpecError> Errors { get; } = errors;

    private static string Format(string sourceName, IReadOnlyList<SpecError> errors)
    {
        var text = new StringBuilder($"invalid silo config {sourceName}: {errors.Count} error{(errors.Count == 1 ? "" : "s")}");
        foreach (var error in errors) text.Append("\n  ").Append(error);
        return text.ToString();
    }
}

/// <summary>Reads <see cref="SiloConfig"/> YAML with the job spec's reader (unknown keys, types and lines reported the same way).</summary>
public static class SiloConfigLoader
{
    /// <summary>Reads the file at <paramref name="path"/>; <paramref name="hostOverride"/> (<c>up --host</c>) replaces <c>silo.host</c>.</summary>
    /// <exception cref="UserFacingException">The file cannot be read.</exception>
    /// <exception cref="SiloConfigException">The config is invalid.</exception>
    public static SiloConfig LoadFile(string path, IPAddress? hostOverride = null)
    {
        string yaml;
        try
        {
            if (Directory.Exists(path))
                throw new UserFacingException($"cannot read silo config {path}: it is a directory, not a YAML file");
            yaml = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new UserFacingException($"cannot read silo config {path}: file not found", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new UserFacingException($"cannot read silo config {path}: {ex.Message}", ex);
        }
        return Parse(yaml, path, hostOverride);
    }

    /// <summary>Parses config text; no I/O. <paramref name="hostOverride"/> (<c>up --host</c>, e.g. a Kubernetes pod's IP that
    /// no config file can know) replaces <c>silo.host</c>, and so also the default of <c>node.address</c>.</summary>
    /// <exception cref="SiloConfigException">The config is invalid.</exception>
    public static SiloConfig Parse(string yaml, string sourceName, IPAddress? hostOverride = null)
    {
        var context = new SpecReadContext();
        YamlMappingNode root;
        if (!YamlErrors.TryLoad(yaml, out var stream, out var problem, out var line))
            throw new SiloConfigException(sourceName, [new SpecError("", $"malformed YAML: {problem}", line)]);
        if (stream.Documents.Count == 0 || MappingReader.IsNull(stream.Documents[0].RootNode))
            root = new YamlMappingNode();
        else if (stream.Documents[0].RootNode is YamlMappingNode mapping)
            root = mapping;
        else
        {
            var top = stream.Documents[0].RootNode;
            throw new SiloConfigException(sourceName, [new SpecError("", $"the top level must be a mapping of fields, got {MappingReader.Describe(top)}", checked((int)top.Start.Line))]);
        }

        var defaults = SiloConfig.Default;
        var reader = new MappingReader(root, "", context);
        var errors = new List<SpecError>();
        void Check(bool ok, string path, string message)
        {
            if (!ok) errors.Add(new SpecError(path, message, context.LocationOf(path)?.Line));
        }

        var (clusterId, redis) = reader.Mapping("cluster", c => (c.String("id", defaults.ClusterId), c.Has("redis") ? c.String("redis", "") : null));
        var (host, siloPort, gatewayPort, listenAny) = reader.Mapping("silo", s =>
            (s.String("host", defaults.Host.ToString()), s.Int("port", defaults.SiloPort), s.Int("gateway_port", defaults.GatewayPort),
             s.Bool("listen_any", defaults.ListenAny)));
        if (hostOverride is not null) host = hostOverride.ToString();
        var slots = reader.Int("slots", defaults.Slots);
        var runsRoot = reader.String("runs_root", defaults.RunsRoot);
        var metricsPort = reader.Int("metrics_port", defaults.MetricsPort);
        var hasNode = reader.Has("node");
        var (nodeName, nodeAddress, nodeSlots, gpus, labels, nodeInterface, workerEnv) = reader.Mapping("node", n => (
            n.String("name", NodeConfig.DefaultName()), n.Has("address") ? n.String("address", "") : null,
            n.Has("slots") ? n.Int("slots", 0) : (int?)null, n.Has("gpus") ? n.Int("gpus", 0) : (int?)null, n.StringMap("labels"),
            n.Has("interface") ? n.String("interface", "") : null, n.StringMap("worker_env")));
        var slotsGiven = reader.Has("slots");
        var hasTls = reader.Has("tls");
        var (certificate, key, ca) = reader.Mapping("tls", t => (t.String("certificate", ""), t.Has("key") ? t.String("key", "") : null, t.String("ca", "")));
        var launcher = reader.Mapping("launcher", LauncherConfig.Read);
        var hasDashboard = reader.Has("dashboard");
        var (dashboardOn, dashboardAddress, dashboardPort) = reader.Mapping("dashboard", d => (d.Bool("enabled", true),
            d.String("address", Dashboard.DashboardConfig.DefaultAddress.ToString()), d.Int("port", Dashboard.DashboardConfig.DefaultPort)));
        reader.ReportUnknown();

        Check(DnsLabel.IsValid(clusterId), "cluster.id", $"must be a DNS-1123 label ({DnsLabel.Rule}); got '{clusterId}'");
        if (redis is not null)
            Check(TryParseEndpoint(redis, out _), "cluster.redis", $"expected host:port of a Redis server, got '{redis}'");
        Check(IPAddress.TryParse(host, out var address), "silo.host", $"expected an IP address (e.g. 127.0.0.1), got '{host}'");
        Check(siloPort is >= 1 and <= 65535, "silo.port", $"must be a port number 1..65535, got {siloPort}");
        Check(gatewayPort is >= 1 and <= 65535, "silo.gateway_port", $"must be a port number 1..65535, got {gatewayPort}");
        Check(siloPort != gatewayPort, "silo.gateway_port", $"must differ from silo.port ({siloPort})");
        Check(slots >= 1, "slots", $"must be >= 1, got {slots}");
        Check(runsRoot.Length > 0, "runs_root", "must not be empty");
        Check(metricsPort is >= 0 and <= 65535, "metrics_port", $"must be 0 (off) or a port number 1..65535, got {metricsPort}");
        Security.TlsPaths? tls = null;
        if (hasTls)
        {
            Check(certificate.Length > 0, "tls.certificate", "is required with tls: the silo's certificate file (PEM, or PFX holding its key)");
            Check(key is null || key.Length > 0, "tls.key", "must not be empty (leave it out when the certificate file holds the key)");
            Check(ca.Length > 0, "tls.ca", "is required with tls: the certificate authority (PEM) every silo, client and worker certificate must be issued by");
            if (certificate.Length > 0 && ca.Length > 0 && key is not { Length: 0 })
                tls = new Security.TlsPaths(certificate, key, ca, Security.TlsFieldNames.Config);
        }
        NodeConfig? node = null;
        if (hasNode)
        {
            Check(NodeConfig.IsValidName(nodeName), "node.name", $"must be {NodeConfig.NameRule}; got '{nodeName}'");
            IPAddress? advertised = null;
            if (nodeAddress is not null)
                Check(IPAddress.TryParse(nodeAddress, out advertised), "node.address", $"expected the IP address other nodes reach this one at, got '{nodeAddress}'");
            else if (address is not null && (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any)))
                Check(false, "node.address", $"is required when silo.host is {address} (a wildcard is not an address other nodes can reach)");
            else
                advertised = address;
            Check(nodeSlots is null || !slotsGiven, "node.slots", "and the top-level slots are both given; keep node.slots");
            Check(nodeSlots is null or >= 1, "node.slots", $"must be >= 1, got {nodeSlots}");
            Check(gpus is null or >= 0, "node.gpus", $"must be >= 0, got {gpus}");
            if (nodeInterface is not null)
                Check(NodeConfig.IsValidInterface(nodeInterface), "node.interface", $"expected a network interface name (e.g. eth0), got '{nodeInterface}'");
            foreach (var (variable, _) in workerEnv)
                Check(System.Text.RegularExpressions.Regex.IsMatch(variable, "^[A-Za-z_][A-Za-z0-9_]*$"), $"node.worker_env.{variable}", "is not an environment variable name");
            foreach (var (label, value) in labels)
                Check(label.Length > 0 && value.Length > 0, $"node.labels.{label}", "labels need a name and a value");
            if (advertised is not null)
                node = new NodeConfig(nodeName, advertised, nodeSlots ?? slots, gpus ?? NodeConfig.DetectGpus(), labels.ToImmutableSortedDictionary(StringComparer.Ordinal), nodeInterface,
                    workerEnv.ToImmutableSortedDictionary(StringComparer.Ordinal));
        }

        foreach (var (field, message) in launcher.Problems(runsRoot, hasTls))
            Check(false, field == "runs_root" ? field : $"launcher.{field}", message);

        Dashboard.DashboardConfig? dashboard = null;
        if (hasDashboard && dashboardOn)
        {
            Check(IPAddress.TryParse(dashboardAddress, out var dashboardIp), "dashboard.address", $"expected an IP address (e.g. 127.0.0.1), got '{dashboardAddress}'");
            Check(dashboardPort is >= 1 and <= 65535, "dashboard.port", $"must be a port number 1..65535, got {dashboardPort}");
            Check(dashboardPort != siloPort && dashboardPort != gatewayPort, "dashboard.port", $"must differ from silo.port ({siloPort}) and silo.gateway_port ({gatewayPort})");
            Check(metricsPort == 0 || dashboardPort < metricsPort || dashboardPort > metricsPort + Telemetry.SiloMetricsOptions.FallbackRange, "dashboard.port",
                $"must lie outside {metricsPort}..{metricsPort + Telemetry.SiloMetricsOptions.FallbackRange} (metrics_port and the ports it falls back to when taken)");
            if (dashboardIp is not null && Dashboard.DashboardExposure.Refusal(dashboardIp, hasTls) is { } refusal)
                Check(false, "dashboard.address", refusal);
            if (dashboardIp is not null)
                dashboard = new Dashboard.DashboardConfig(dashboardIp, dashboardPort);
        }

        var reported = context.Errors.Select(e => e.Path).ToHashSet(StringComparer.Ordinal);
        var all = context.Errors.Concat(errors.Where(e => !reported.Contains(e.Path))).OrderBy(e => e.Line ?? int.MaxValue).ToList();
        if (all.Count > 0)
            throw new SiloConfigException(sourceName, all);
        var kubernetes = launcher.ToOptions(runsRoot, new Scheduler.Kubernetes.WorkerSiloSettings(clusterId, redis, siloPort, gatewayPort,
            metricsPort == 0 ? SiloConfig.DefaultMetricsPort : metricsPort));
        return new SiloConfig(clusterId, redis, address!, siloPort, gatewayPort, node?.Slots ?? slots, runsRoot, metricsPort, node, tls, kubernetes, listenAny, dashboard);
    }

    /// <summary>Parses <c>host:port</c> (a name or an IP address and a port 1..65535).</summary>
    public static bool TryParseEndpoint(string text, out (string Host, int Port) endpoint)
    {
        endpoint = default;
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1) return false;
        var host = text[..colon].Trim('[', ']');
        if (!int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            return false;
        if (host.Any(char.IsWhiteSpace)) return false;
        endpoint = (host, port);
        return true;
    }
}
