using Orchestrator.Silos.Export;
using Orchestrator.Spec;
using Orchestrator.Tests.Cli;
using Orchestrator.Tests.Observability;
using static Orchestrator.Tests.Deployment.KubernetesTools;

namespace Orchestrator.Tests.Deployment;

/// <summary><c>orchestrator export mpijob</c>: the real CLI's output, validated offline (MPIJob v2beta1 fields, pod templates
/// against the core schemas), its spec read back, worker pods and GPUs as the spec says; and bad input.</summary>
public sealed class ExportMpiJobTests
{
    private static readonly string Example = RepoFiles.Path("examples/fashion-mnist.yaml");

    [Theory]
    [InlineData("cuda", 4, 3, 2, 3)]  // 4 ranks, 3 per pod: 2 pods (the last runs 1 rank), 3 GPUs each (one per slot)
    [InlineData("cuda", 4, 1, 4, 1)]
    [InlineData("cpu", 4, 2, 2, 0)]
    [InlineData("auto", 2, 2, 1, 0)]  // auto requests no GPU: the pods train on CPU
    public void The_export_validates_reads_back_and_sizes_workers_and_gpus(string device, int workers, int slots, int pods, int gpus)
    {
        using var dir = new TempDirectory();
        string[] sets = ["--set", $"device={device}", "--set", $"workers={workers}", "--set", "training.global_batch=240"];
        var result = CliRunner.Run(dir.Path, ["export", "mpijob", Example, "--image", "ghcr.io/acme/orchestrator-worker:1.0", "--slots-per-worker", $"{slots}", .. sets]);
        Assert.True(result.ExitCode == 0, result.ToString());
        var yaml = result.Output;
        var (exitCode, output) = Validate(yaml);
        Assert.True(exitCode == 0, output);

        var objects = ParseAll(yaml);
        var configMap = Assert.Single(objects, o => Kind(o) == "ConfigMap");
        var job = Assert.Single(objects, o => Kind(o) == "MPIJob");
        Assert.Equal("kubeflow.org/v2beta1", Str(job, "apiVersion"));
        Assert.Equal("MPICH", Str(job, "spec", "mpiImplementation"));
        Assert.Equal($"{slots}", Str(job, "spec", "slotsPerWorker"));
        Assert.Equal("Running", Str(job, "spec", "runPolicy", "cleanPodPolicy"));

        var overrides = new[] { $"device={device}", $"workers={workers}", "training.global_batch=240" };
        var expected = JobSpecLoader.LoadFile(Example, overrides, SpecHost.CoresOnly);
        var text = Str(configMap, "data", MpiJobExport.SpecFile);
        Assert.Equal(JobSpecYaml.ToYaml(expected), text);
        Assert.Equal(expected, JobSpecLoader.Parse(text, "ConfigMap", [], SpecHost.CoresOnly));
        Assert.Equal($"{expected.FaultOrDefault.MaxRestarts}", Str(job, "spec", "runPolicy", "backoffLimit"));

        var launcher = Map(job, "spec", "mpiReplicaSpecs", "Launcher");
        var worker = Map(job, "spec", "mpiReplicaSpecs", "Worker");
        Assert.Equal("1", Str(launcher, "replicas"));
        Assert.Equal($"{pods}", Str(worker, "replicas"));
        var command = List(List(launcher, "template", "spec", "containers")[0], "command").Cast<string>().ToList();
        Assert.Equal(["mpirun", "-n", $"{workers}", "orchestrator", "train", $"{MpiJobExport.SpecDirectory}/{MpiJobExport.SpecFile}"], command.Take(6));
        var specVolume = List(launcher, "template", "spec", "volumes").Single(v => Str(v, "configMap", "name") == Name(configMap));
        Assert.Contains(List(List(launcher, "template", "spec", "containers")[0], "volumeMounts"),
            m => Str(m, "name") == Str(specVolume, "name") && Str(m, "mountPath") == MpiJobExport.SpecDirectory);
        var workerContainer = List(worker, "template", "spec", "containers")[0];
        Assert.Equal(gpus == 0 ? "" : $"{gpus}", Str(workerContainer, "resources", "limits", MpiJobExport.GpuResource));
        Assert.Equal("ghcr.io/acme/orchestrator-worker:1.0", Str(workerContainer, "image"));
    }

    [Fact]
    public void The_validator_refuses_an_mpijob_without_its_required_fields()
    {
        var (code, output) = Validate("apiVersion: kubeflow.org/v2beta1\nkind: MPIJob\nmetadata: {name: j}\nspec:\n  slotsPerWorker: 0\n  mpiImplementation: LAM\n");
        Assert.Equal(1, code);
        Assert.Contains("spec.mpiReplicaSpecs is required", output, StringComparison.Ordinal);
        Assert.Contains("slotsPerWorker", output, StringComparison.Ordinal);
        Assert.Contains("mpiImplementation", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--image", "Not An Image", "--image")]
    [InlineData("--slots-per-worker", "0", "--slots-per-worker")]
    [InlineData("--set", "workers=0", "workers")]
    [InlineData("--set", "fault.max_restarts=-1", "fault.max_restarts")]
    public void Bad_input_is_exit_2_naming_the_field_with_nothing_printed_to_stdout(string option, string value, string named)
    {
        using var dir = new TempDirectory();
        var result = CliRunner.Run(dir.Path, ["export", "mpijob", Example, option, value]);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(named, result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("kind: MPIJob", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Worker_pods_round_up_and_gpus_follow_the_device()
    {
        Assert.Equal(3, MpiJobExport.WorkerPods(5, 2));
        Assert.Equal(1, MpiJobExport.WorkerPods(2, 8));
        Assert.True(MpiJobExport.IsValidImage("localhost:5000/a/b-c:1.0"));
        Assert.False(MpiJobExport.IsValidImage("ghcr.io/OWNER/x"));
    }
}
