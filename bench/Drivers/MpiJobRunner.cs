using System.Text.Json;
using Orchestrator.Bench;
using Orchestrator.Spec;

namespace Orchestrator.Bench.Drivers;

/// <summary>Runs a whole job as <c>mpirun.mpich -np N orchestrator train</c> (as a user would) and reads its summary.</summary>
public static class MpiJobRunner
{
    public static JsonElement Train(JobSpec spec, string directory, TimeSpan limit, params string[] extraArguments)
    {
        Directory.CreateDirectory(directory);
        var specPath = Path.Combine(directory, "job.yaml");
        File.WriteAllText(specPath, JobSpecYaml.ToYaml(spec));
        var result = ChildProcess.Run("mpirun.mpich",
            ["-np", spec.Workers.ToString(), Environment.ProcessPath ?? "dotnet", HarnessVerbs.EntryAssemblyFor(AppContext.BaseDirectory, "train"),
             "train", specPath, "--out", Path.Combine(directory, "run"), "--fresh", .. extraArguments],
            limit, "apt-get install -y mpich");
        if (result.TimedOut)
            throw new UserFacingException($"job {spec.Name} ran longer than {limit}");
        if (result.ExitCode != 0)
            throw new UserFacingException($"job {spec.Name} failed (exit {result.ExitCode}):\n{result.Stdout}\n{result.Stderr}");
        return JsonDocument.Parse(File.ReadAllText(RunLayout.Summary(Path.Combine(directory, "run")))).RootElement.Clone();
    }
}
