using System.CommandLine;
using Orchestrator.Silos.Export;
using Orchestrator.Silos.Terminal;
using Orchestrator.Spec;

namespace Orchestrator.Silos.Commands;

/// <summary>
/// <c>orchestrator export mpijob SPEC [--image IMAGE] [--set k=v]... [--slots-per-worker N]</c>: prints (standard output,
/// YAML) a ConfigMap holding the validated spec and a Kubeflow MPIJob (<see cref="MpiJobExport"/>) that trains it with
/// MPICH on the MPI Operator. A bad spec, image or slot count: exit 2 with the field or option named, nothing printed.
/// </summary>
public static class ExportCommand
{
    /// <summary>Builds the <c>export</c> command and its <c>mpijob</c> subcommand.</summary>
    public static Command Create()
    {
        var spec = new Argument<FileInfo>("spec") { Description = "Job spec (YAML)" };
        var image = new Option<string>("--image")
        {
            Description = "Worker image for launcher and workers (MPICH's mpirun and orchestrator on PATH)",
            DefaultValueFactory = _ => MpiJobOptions.DefaultImage,
        };
        var set = SpecOptions.Set();
        var slots = new Option<int?>("--slots-per-worker") { Description = "Ranks per worker pod (default: placement.ranks_per_node, else 1)" };
        var mpijob = new Command("mpijob", "Print a Kubeflow MPIJob (v2beta1, MPICH) and the ConfigMap with the spec, for the MPI Operator") { spec, image, set, slots };
        mpijob.SetAction(parse => CommandGuard.Run(() => Execute(parse.GetValue(spec)!, parse.GetValue(image)!, parse.GetValue(set) ?? [], parse.GetValue(slots))));
        return new Command("export", "Export a job for another scheduler") { mpijob };
    }

    private static int Execute(FileInfo specFile, string image, string[] overrides, int? slotsPerWorker)
    {
        // The cluster's machines, not this one, hold the memory: no memory check here (as submit).
        var job = JobSpecLoader.LoadFile(specFile.FullName, overrides, SpecHost.CoresOnly);
        var yaml = MpiJobExport.ToYaml(job, JobSpecYaml.ToYaml(job), new MpiJobOptions(image, slotsPerWorker));
        Console.Out.Write(yaml);
        return 0;
    }
}
