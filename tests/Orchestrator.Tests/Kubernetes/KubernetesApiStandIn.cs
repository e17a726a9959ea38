using System.Collections.Specialized;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Web;
using k8s;
using k8s.Models;

namespace Orchestrator.Tests.Kubernetes;

/// <summary>
/// A loopback STAND-IN for the Kubernetes API: NOT a real API server. An HTTP server on 127.0.0.1 that speaks exactly the
/// endpoints and watch streams the Kubernetes launcher calls, so the real KubernetesClient can be driven against it:
/// <list type="bullet">
/// <item>core/v1 ConfigMaps (create, get, delete), Services (create, delete), Pods (create, list by label selector, watch from a
/// resourceVersion with bookmarks off, delete);</item>
/// <item>one resourceVersion counter for all objects; a watch replays the events after its version, then streams new ones
/// until <see cref="CloseWatches"/> or its timeout; a version older than <see cref="Compact"/> left gets a 410 Gone Status event;</item>
/// <item>errors as the API gives them (a Status object): 404 for a missing namespace or object, 409 for a duplicate name,
/// 403 for a verb <see cref="Forbid"/> refuses.</item>
/// </list>
/// No scheduler, kubelet, admission, defaulting or garbage collector: tests play the kubelet through <see cref="UpdatePod"/>
/// (or <see cref="OnPodCreated"/>), and deleting the owner deletes nothing else (the launcher deletes explicitly).
/// Every request is recorded as (verb, resource) for the RBAC cross-check.
/// </summary>
internal sealed class KubernetesApiStandIn : IDisposable
{
    private readonly HttpListener listener = new();
    private readonly Lock gate = new();
    private readonly HashSet<string> namespaces = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Resource, string Ns, string Name), IKubernetesObject<V1ObjectMeta>> objects = [];
    private readonly List<(long Version, string Type, V1Pod Pod)> podEvents = [];
    private readonly HashSet<(string Verb, string Resource)> forbidden = [];
    private readonly List<(string Verb, string Resource)> requests = [];
    private readonly CancellationTokenSource stop = new();
    private CancellationTokenSource watches = new();
    private long version = 100;
    private long compactedBelow;
    private readonly Task loop;

    public KubernetesApiStandIn(params string[] existingNamespaces)
    {
        foreach (var ns in existingNamespaces) namespaces.Add(ns);
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        Port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        listener.Start();
        loop = Task.Run(AcceptLoop);
    }

    public int Port { get; }

    /// <summary>Runs on every pod created (the test's kubelet); may call <see cref="UpdatePod"/>.</summary>
    public Action<V1Pod>? OnPodCreated { get; set; }

    /// <summary>Runs on every pod deleted through the API (the test's kubelet stops what it started).</summary>
    public Action<string>? OnPodDeleted { get; set; }

    /// <summary>A kubeconfig file (token user, no TLS) pointing at this stand-in.</summary>
    public string WriteKubeconfig(string path)
    {
        File.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: stand-in
              cluster:
                server: http://127.0.0.1:{Port}
            contexts:
            - name: stand-in
              context: {"{"}cluster: stand-in, user: stand-in{"}"}
            current-context: stand-in
            users:
            - name: stand-in
              user: {"{"}token: not-a-secret{"}"}
            """);
        return path;
    }

    /// <summary>Refuses <paramref name="verb"/> on <paramref name="resource"/> with 403, as RBAC would.</summary>
    public void Forbid(string verb, string resource)
    {
        lock (gate) forbidden.Add((verb, resource));
    }

    /// <summary>Every (verb, resource) served so far.</summary>
    public IReadOnlyList<(string Verb, string Resource)> Requests
    {
        get { lock (gate) return [.. requests]; }
    }

    /// <summary>Names of the objects of <paramref name="resource"/> that exist now.</summary>
    public IReadOnlyList<string> Names(string resource)
    {
        lock (gate) return [.. objects.Keys.Where(k => k.Resource == resource).Select(k => k.Name).Order(StringComparer.Ordinal)];
    }

    /// <summary>The stored object.</summary>
    public T? Get<T>(string resource, string ns, string name) where T : class
    {
        lock (gate) return objects.TryGetValue((resource, ns, name), out var found) ? (T)found : null;
    }

    /// <summary>Changes a pod (the kubelet's or the scheduler's part) and emits MODIFIED.</summary>
    public void UpdatePod(string ns, string name, Action<V1Pod> change)
    {
        lock (gate)
        {
            if (!objects.TryGetValue(("pods", ns, name), out var found)) throw new InvalidOperationException($"no pod {name}");
            var pod = (V1Pod)found;
            change(pod);
            pod.Metadata.ResourceVersion = Next();
            podEvents.Add((version, "MODIFIED", Copy(pod)));
        }
    }

    /// <summary>A pod vanishes as if its node was lost and the pod garbage-collected (DELETED).</summary>
    public void RemovePod(string ns, string name)
    {
        lock (gate)
        {
            if (objects.Remove(("pods", ns, name), out var found))
            {
                found.Metadata.ResourceVersion = Next();
                podEvents.Add((version, "DELETED", Copy((V1Pod)found)));
            }
        }
    }

    /// <summary>Forgets the events so far: a watch from an older version gets 410 Gone.</summary>
    public void Compact()
    {
        lock (gate) compactedBelow = version + 1;
    }

    /// <summary>Ends every open watch stream (as the server's timeout would).</summary>
    public void CloseWatches()
    {
        CancellationTokenSource old;
        lock (gate)
        {
            old = watches;
            watches = new CancellationTokenSource();
        }
        old.Cancel();
        old.Dispose();
    }

    /// <summary>Makes a pod Running with its silo ready at <paramref name="ip"/>.</summary>
    public static void Run(V1Pod pod, string ip)
    {
        pod.Status = new V1PodStatus
        {
            Phase = "Running",
            PodIP = ip,
            Conditions = [new V1PodCondition { Type = "PodScheduled", Status = "True" }, new V1PodCondition { Type = "Ready", Status = "True" }],
            ContainerStatuses = [new V1ContainerStatus { Name = "worker", Image = pod.Spec.Containers[0].Image, Ready = true, State = new V1ContainerState { Running = new V1ContainerStateRunning() } }],
        };
    }

    public void Dispose()
    {
        stop.Cancel();
        CloseWatches();
        listener.Close();
        try { loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
        stop.Dispose();
    }

    private string Next() => (++version).ToString(CultureInfo.InvariantCulture);

    private static V1Pod Copy(V1Pod pod) => KubernetesJson.Deserialize<V1Pod>(KubernetesJson.Serialize(pod));

    private async Task AcceptLoop()
    {
        while (!stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try { context = await listener.GetContextAsync(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
            _ = Task.Run(() => Serve(context));
        }
    }

    private async Task Serve(HttpListenerContext context)
    {
        try
        {
            await Handle(context.Request, context.Response);
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
        {
            // the client went away (a cancelled watch)
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"stand-in: {context.Request.HttpMethod} {context.Request.Url}: {e}");
            throw;
        }
        finally
        {
            try { context.Response.Close(); } catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { }
        }
    }

    private async Task Handle(HttpListenerRequest request, HttpListenerResponse response)
    {
        // /api/v1/namespaces/{ns}/{resource}[/{name}]
        var parts = request.Url!.AbsolutePath.Trim('/').Split('/');
        if (parts.Length < 5 || parts[0] != "api" || parts[1] != "v1" || parts[2] != "namespaces")
        {
            await Status(response, 404, "NotFound", $"the stand-in serves only /api/v1/namespaces/NS/...; not {request.Url.AbsolutePath}");
            return;
        }
        var (ns, resource, name) = (parts[3], parts[4], parts.Length > 5 ? parts[5] : null);
        var query = HttpUtility.ParseQueryString(request.Url.Query);
        var verb = (request.HttpMethod, name, query["watch"]) switch
        {
            ("POST", null, _) => "create",
            ("GET", null, "true") => "watch",
            ("GET", null, _) => "list",
            ("GET", _, _) => "get",
            ("DELETE", _, _) => "delete",
            _ => request.HttpMethod.ToLowerInvariant(),
        };
        lock (gate) requests.Add((verb, resource));
        bool refused, nsMissing;
        lock (gate)
        {
            refused = forbidden.Contains((verb, resource));
            nsMissing = !namespaces.Contains(ns);
        }
        if (refused)
        {
            await Status(response, 403, "Forbidden",
                $"{resource} is forbidden: User \"system:serviceaccount:{ns}:orchestrator\" cannot {verb} resource \"{resource}\" in API group \"\" in the namespace \"{ns}\"");
            return;
        }
        if (nsMissing)
        {
            await Status(response, 404, "NotFound", $"namespaces \"{ns}\" not found");
            return;
        }
        switch (verb)
        {
            case "create":
                await Create(request, response, ns, resource);
                break;
            case "get":
                await GetOne(response, ns, resource, name!);
                break;
            case "delete":
                await Delete(response, ns, resource, name!);
                break;
            case "list" when resource == "pods":
                await List(response, ns, query);
                break;
            case "watch" when resource == "pods":
                await Watch(response, ns, query);
                break;
            default:
                await Status(response, 405, "MethodNotAllowed", $"the stand-in does not serve {verb} {resource}");
                break;
        }
    }

    private async Task Create(HttpListenerRequest request, HttpListenerResponse response, string ns, string resource)
    {
        using var reader = new StreamReader(request.InputStream, Encoding.UTF8);
        var body = await reader.ReadToEndAsync();
        IKubernetesObject<V1ObjectMeta> created = resource switch
        {
            "pods" => KubernetesJson.Deserialize<V1Pod>(body),
            "services" => KubernetesJson.Deserialize<V1Service>(body),
            "configmaps" => KubernetesJson.Deserialize<V1ConfigMap>(body),
            _ => throw new InvalidOperationException($"the stand-in does not create {resource}"),
        };
        V1Pod? newPod = null;
        var name = created.Metadata.Name;
        var duplicate = false;
        lock (gate)
        {
            var key = (resource, ns, name);
            if (objects.ContainsKey(key))
            {
                duplicate = true;
            }
            else
            {
                created.Metadata.Uid = Guid.NewGuid().ToString();
                created.Metadata.CreationTimestamp = DateTime.UtcNow;
                created.Metadata.NamespaceProperty = ns;
                created.Metadata.ResourceVersion = Next();
                if (created is V1Pod pod)
                {
                    pod.Status = new V1PodStatus { Phase = "Pending" };
                    podEvents.Add((version, "ADDED", Copy(pod)));
                    newPod = pod;
                }
                objects[key] = created;
            }
        }
        if (duplicate)
        {
            await Status(response, 409, "AlreadyExists", $"{resource} \"{name}\" already exists");
            return;
        }
        if (newPod is not null) OnPodCreated?.Invoke(newPod);
        await Json(response, 201, created);
    }

    private async Task GetOne(HttpListenerResponse response, string ns, string resource, string name)
    {
        IKubernetesObject<V1ObjectMeta>? found;
        lock (gate) objects.TryGetValue((resource, ns, name), out found);
        if (found is null) await Status(response, 404, "NotFound", $"{resource} \"{name}\" not found");
        else await Json(response, 200, found);
    }

    private async Task Delete(HttpListenerResponse response, string ns, string resource, string name)
    {
        IKubernetesObject<V1ObjectMeta>? removed;
        lock (gate)
        {
            if (objects.Remove((resource, ns, name), out removed) && removed is V1Pod pod)
            {
                pod.Metadata.ResourceVersion = Next();
                podEvents.Add((version, "DELETED", Copy(pod)));
            }
        }
        if (removed is null) await Status(response, 404, "NotFound", $"{resource} \"{name}\" not found");
        else
        {
            if (removed is V1Pod) OnPodDeleted?.Invoke(name);
            await Json(response, 200, removed); // the API answers a delete with the object
        }
    }

    private async Task List(HttpListenerResponse response, string ns, NameValueCollection query)
    {
        var selector = Selector(query["labelSelector"]);
        V1PodList list;
        lock (gate)
        {
            list = new V1PodList
            {
                ApiVersion = "v1",
                Kind = "PodList",
                Metadata = new V1ListMeta { ResourceVersion = version.ToString(CultureInfo.InvariantCulture) },
                Items = [.. objects.Where(o => o.Key.Resource == "pods" && o.Key.Ns == ns).Select(o => Copy((V1Pod)o.Value)).Where(p => Matches(selector, p))],
            };
        }
        await Json(response, 200, list);
    }

    private async Task Watch(HttpListenerResponse response, string ns, NameValueCollection query)
    {
        var selector = Selector(query["labelSelector"]);
        var from = long.TryParse(query["resourceVersion"], NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : 0;
        var timeout = int.TryParse(query["timeoutSeconds"], NumberStyles.None, CultureInfo.InvariantCulture, out var t) ? t : 60;
        response.StatusCode = 200;
        response.ContentType = "application/json";
        response.SendChunked = true;
        var output = response.OutputStream;
        CancellationToken closed;
        bool gone;
        lock (gate)
        {
            closed = watches.Token;
            gone = from < compactedBelow;
        }
        if (gone)
        {
            await Line(output, $"{{\"type\":\"ERROR\",\"object\":{StatusJson(410, "Expired", $"too old resource version: {from} ({compactedBelow})")}}}");
            return;
        }
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(closed, stop.Token);
        linked.CancelAfter(TimeSpan.FromSeconds(timeout));
        var sent = from;
        while (!linked.IsCancellationRequested)
        {
            List<(long Version, string Type, V1Pod Pod)> pending;
            lock (gate) pending = [.. podEvents.Where(e => e.Version > sent && e.Pod.Metadata.NamespaceProperty == ns && Matches(selector, e.Pod))];
            foreach (var (eventVersion, type, pod) in pending)
            {
                await Line(output, $"{{\"type\":\"{type}\",\"object\":{KubernetesJson.Serialize(pod)}}}");
                sent = eventVersion;
            }
            try { await Task.Delay(50, linked.Token); }
            catch (OperationCanceledException) { break; }
        }
    }

    private static async Task Line(Stream output, string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json + "\n");
        await output.WriteAsync(bytes);
        await output.FlushAsync();
    }

    private static Dictionary<string, string> Selector(string? text) =>
        string.IsNullOrEmpty(text) ? [] : text.Split(',').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "");

    private static bool Matches(Dictionary<string, string> selector, V1Pod pod) =>
        selector.All(s => pod.Metadata.Labels is { } labels && labels.TryGetValue(s.Key, out var value) && value == s.Value);

    private static Task Json(HttpListenerResponse response, int code, object body) => Raw(response, code, KubernetesJson.Serialize(body));

    private static async Task Raw(HttpListenerResponse response, int code, string json)
    {
        response.StatusCode = code;
        response.ContentType = "application/json";
        var bytes = Encoding.UTF8.GetBytes(json);
        response.ContentLength64 = bytes.Length;
        await response.OutputStream.WriteAsync(bytes);
    }

    // KubernetesClient reads Status objects but cannot write them (its converter only reads): written by hand.
    private static string StatusJson(int code, string reason, string message) => System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["kind"] = "Status", ["apiVersion"] = "v1", ["metadata"] = new Dictionary<string, object>(), ["status"] = "Failure",
        ["message"] = message, ["reason"] = reason, ["code"] = code,
    });

    private static Task Status(HttpListenerResponse response, int code, string reason, string message) => Raw(response, code, StatusJson(code, reason, message));
}
