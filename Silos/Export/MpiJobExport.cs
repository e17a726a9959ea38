using System.Globalization;
using System.Text.RegularExpressions;
using Orchestrator.Spec;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.EventEmitters;

namespace Orchestrator.Silos.Export;

/// <summary>What <c>orchestrator export mpijob</c> takes besides the spec.</summary>
/// <param name="Image">The worker image (launcher and workers run it): MPICH's <c>mpirun</c> and <c>orchestrator</c> on PATH.</param>
/// <param name="SlotsPerWorker">Ranks per worker pod (MPIJob <c>slotsPerWorker</c>); null = the spec's
/// <c>placement.ranks_per_node</c>, or 1 when that is 0.</param>
public sealed record MpiJobOptions(string Image, int? SlotsPerWorker = null)
{
    /// <summary>The image when none is given (the placeholder name the manifests use too; README "Kubernetes").</summary>
    public const string DefaultImage = "orchestrator-worker";
}

/// <summary>
/// Builds a Kubeflow MPI Operator job (<c>kubeflow.org/v2beta1</c> MPIJob, <c>mpiImplementation: MPICH</c>) that runs a job
/// spec the way <c>mpirun.mpich -np N orchestrator train SPEC</c> does here, plus the ConfigMap holding that spec. Pure: the
/// objects are plain maps and lists (written with YamlDotNet, which the repository already uses for specs) rather than
/// KubernetesClient's models, because the MPIJob is a custom resource those models do not have and nothing here talks to
/// an API server.
/// <para>
/// Shape: one launcher pod runs <c>mpirun -n WORKERS orchestrator train /etc/orchestrator/job.yaml --out /runs/NAME</c>
/// (the operator gives MPICH's Hydra the hostfile of the worker pods and reaches them over SSH); ranks run in
/// ceil(workers / slotsPerWorker) worker pods, <c>slotsPerWorker</c> ranks each (the last pod may run fewer: Hydra fills
/// the hostfile's slots in order). <c>runPolicy</c>: <c>cleanPodPolicy: Running</c> (running pods are removed when the job
/// ends; finished ones stay for their logs), <c>backoffLimit</c> = the spec's <c>fault.max_restarts</c>. GPUs: with
/// <c>device: cuda</c> every worker pod requests (as a limit) <c>nvidia.com/gpu</c> = its slots, one GPU per rank; with
/// <c>auto</c> or <c>cpu</c> none (auto then trains on CPU in the pod), see <see cref="GpusPerWorker"/>.
/// </para>
/// </summary>
public static partial class MpiJobExport
{
    /// <summary>Where the spec's ConfigMap is mounted in the launcher (and workers).</summary>
    public const string SpecDirectory = "/etc/orchestrator";

    /// <summary>The spec's file name in its ConfigMap and mount.</summary>
    public const string SpecFile = "job.yaml";

    /// <summary>The run directory's parent in the pods (an emptyDir; mount a ReadWriteMany volume there to keep checkpoints).</summary>
    public const string RunsDirectory = "/runs";

    /// <summary>The extended resource of NVIDIA's device plugin.</summary>
    public const string GpuResource = "nvidia.com/gpu";

    /// <summary>The ConfigMap of job <paramref name="name"/>.</summary>
    public static string ConfigMapName(string name) => $"{name}-spec";

    /// <summary>Worker pods for <paramref name="workers"/> ranks at <paramref name="slotsPerWorker"/> ranks each: rounded up.</summary>
    public static int WorkerPods(int workers, int slotsPerWorker) => (workers + slotsPerWorker - 1) / slotsPerWorker;

    /// <summary>GPUs each worker pod requests: its slots with <c>device: cuda</c>, else none.</summary>
    public static int GpusPerWorker(JobSpec spec, int slotsPerWorker) => spec.Device == DeviceKind.Cuda ? slotsPerWorker : 0;

    /// <summary>The slots per worker <paramref name="options"/> and <paramref name="spec"/> ask for.</summary>
    /// <exception cref="UserFacingException">Below 1, or above the spec's workers.</exception>
    public static int SlotsPerWorker(JobSpec spec, MpiJobOptions options)
    {
        var slots = options.SlotsPerWorker ?? (spec.PlacementOrDefault.RanksPerNode > 0 ? spec.PlacementOrDefault.RanksPerNode : 1);
        if (slots < 1)
            throw new UserFacingException($"--slots-per-worker: must be at least 1, got {slots}");
        return slots;
    }

    /// <summary>Whether <paramref name="image"/> is a container image reference (<c>[registry[:port]/]path[:tag][@sha256:digest]</c>, lower-case path).</summary>
    public static bool IsValidImage(string image) => image.Length <= 255 && ImagePattern().IsMatch(image);

    /// <summary>The MPIJob and the ConfigMap as one YAML stream (ConfigMap first, so <c>kubectl apply -f</c> creates it first).</summary>
    /// <param name="spec">The validated spec.</param>
    /// <param name="specYaml">Its text from the spec writer (<see cref="JobSpecYaml.ToYaml"/>): what the ConfigMap holds.</param>
    /// <param name="options">Image and slots.</param>
    /// <exception cref="UserFacingException">A bad image or slot count (naming the option).</exception>
    public static string ToYaml(JobSpec spec, string specYaml, MpiJobOptions options)
    {
        var (configMap, mpiJob) = Build(spec, specYaml, options);
        // Strings that would read back as numbers or booleans ("4" in a command) are quoted; multi-line ones (the spec) are
        // literal blocks, so the ConfigMap holds the writer's text line for line.
        var serializer = new SerializerBuilder().DisableAliases().WithQuotingNecessaryStrings()
            .WithEventEmitter(next => new LiteralMultilineEmitter(next)).Build();
        return "---\n" + serializer.Serialize(configMap) + "---\n" + serializer.Serialize(mpiJob);
    }

    /// <summary>The ConfigMap and the MPIJob as maps and lists (what <see cref="ToYaml"/> writes).</summary>
    public static (Dictionary<string, object> ConfigMap, Dictionary<string, object> MpiJob) Build(JobSpec spec, string specYaml, MpiJobOptions options)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(specYaml);
        ArgumentNullException.ThrowIfNull(options);
        if (!IsValidImage(options.Image))
            throw new UserFacingException($"--image: '{options.Image}' is not a container image reference (e.g. ghcr.io/owner/orchestrator-worker:1.0)");
        var slots = SlotsPerWorker(spec, options);
        var pods = WorkerPods(spec.Workers, slots);
        var gpus = GpusPerWorker(spec, slots);
        var labels = new Dictionary<string, object> { ["app.kubernetes.io/name"] = "orchestrator", ["orchestrator/job"] = spec.Name };

        var configMap = new Dictionary<string, object>
        {
            ["apiVersion"] = "v1",
            ["kind"] = "ConfigMap",
            ["metadata"] = new Dictionary<string, object> { ["name"] = ConfigMapName(spec.Name), ["labels"] = labels },
            ["data"] = new Dictionary<string, object> { [SpecFile] = specYaml },
        };

        var specPath = $"{SpecDirectory}/{SpecFile}";
        var launcherCommand = new List<object>
        {
            "mpirun", "-n", spec.Workers.ToString(CultureInfo.InvariantCulture),
            "orchestrator", "train", specPath, "--out", $"{RunsDirectory}/{spec.Name}",
        };
        var launcher = Replica(1, "launcher", options.Image, launcherCommand, labels, gpus: 0,
            resources: new Dictionary<string, object> { ["requests"] = new Dictionary<string, object> { ["cpu"] = "500m", ["memory"] = "512Mi" } });
        var workerResources = new Dictionary<string, object>
        {
            ["requests"] = new Dictionary<string, object> { ["cpu"] = slots.ToString(CultureInfo.InvariantCulture), ["memory"] = $"{2 * slots}Gi" },
        };
        if (gpus > 0)
            workerResources["limits"] = new Dictionary<string, object> { [GpuResource] = gpus.ToString(CultureInfo.InvariantCulture) };
        // Workers idle in sshd until the launcher's Hydra starts ranks on them (the operator's MPICH images do the same).
        var worker = Replica(pods, "worker", options.Image, ["/usr/sbin/sshd", "-De"], labels, gpus, workerResources);

        var mpiJob = new Dictionary<string, object>
        {
            ["apiVersion"] = "kubeflow.org/v2beta1",
            ["kind"] = "MPIJob",
            ["metadata"] = new Dictionary<string, object> { ["name"] = spec.Name, ["labels"] = labels },
            ["spec"] = new Dictionary<string, object>
            {
                ["slotsPerWorker"] = slots,
                ["mpiImplementation"] = "MPICH",
                ["runPolicy"] = new Dictionary<string, object>
                {
                    ["cleanPodPolicy"] = "Running",
                    ["backoffLimit"] = spec.FaultOrDefault.MaxRestarts,
                },
                ["mpiReplicaSpecs"] = new Dictionary<string, object> { ["Launcher"] = launcher, ["Worker"] = worker },
            },
        };
        return (configMap, mpiJob);
    }

    private static Dictionary<string, object> Replica(int replicas, string role, string image, List<object> command,
        Dictionary<string, object> labels, int gpus, Dictionary<string, object> resources)
    {
        var container = new Dictionary<string, object>
        {
            ["name"] = role,
            ["image"] = image,
            ["command"] = command,
            ["resources"] = resources,
            ["volumeMounts"] = new List<object>
            {
                new Dictionary<string, object> { ["name"] = "spec", ["mountPath"] = SpecDirectory, ["readOnly"] = true },
                new Dictionary<string, object> { ["name"] = "runs", ["mountPath"] = RunsDirectory },
            },
        };
        var podSpec = new Dictionary<string, object>
        {
            ["containers"] = new List<object> { container },
            ["volumes"] = new List<object>
            {
                new Dictionary<string, object>
                {
                    ["name"] = "spec",
                    ["configMap"] = new Dictionary<string, object> { ["name"] = ConfigMapName((string)labels["orchestrator/job"]) },
                },
                new Dictionary<string, object> { ["name"] = "runs", ["emptyDir"] = new Dictionary<string, object>() },
            },
        };
        if (gpus > 0)
            podSpec["tolerations"] = new List<object>
            {
                new Dictionary<string, object> { ["key"] = GpuResource, ["operator"] = "Exists", ["effect"] = "NoSchedule" },
            };
        return new Dictionary<string, object>
        {
            ["replicas"] = replicas,
            ["restartPolicy"] = "Never",
            ["template"] = new Dictionary<string, object>
            {
                ["metadata"] = new Dictionary<string, object>
                {
                    ["labels"] = new Dictionary<string, object>(labels) { ["orchestrator/role"] = role },
                },
                ["spec"] = podSpec,
            },
        };
    }

    private sealed class LiteralMultilineEmitter(IEventEmitter next) : ChainedEventEmitter(next)
    {
        public override void Emit(ScalarEventInfo eventInfo, IEmitter emitter)
        {
            if (eventInfo.Source.Value is string text && text.Contains('\n', StringComparison.Ordinal))
                eventInfo.Style = ScalarStyle.Literal;
            base.Emit(eventInfo, emitter);
        }
    }

    [GeneratedRegex(@"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$")]
    private static partial Regex ImagePattern();
}
