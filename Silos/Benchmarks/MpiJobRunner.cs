using System.Diagnostics;
using System.Text.Json;
using Orchestrator.Contracts;
using Orchestrator.Contracts.Spec;

namespace Orchestrator.Silos.Benchmarks;

/// <summary>Runs a whole job as <c>mpirun.mpich -np N orchestrator train</c> (as a user would) and reads its summary.</summary>
public static class MpiJobRunner
{
    public static JsonElement Train(JobSpec spec, string directory, TimeSpan limit, params string[] extraArguments)
    {
        Directory.CreateDirectory(directory);
        var specPath = Path.Combine(directory, "job.yaml");
        File.WriteAllText(specPath, JobSpecYaml.ToYaml(spec));
        var start = new ProcessStartInfo("mpirun.mpich") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-np", spec.Workers.ToString(), Environment.ProcessPath ?? "dotnet", Path.Combine(AppContext.BaseDirectory, "orchestrator.dll"),
                     "train", specPath, "--out", Path.Combine(directory, "run"), "--fresh" }.Concat(extraArguments))
            start.ArgumentList.Add(arg);
        start.Environment["NO_COLOR"] = "1";
        using var process = Process.Start(start) ?? throw new UserFacingException("could not start mpirun.mpich (apt-get install -y mpich)");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            throw new UserFacingException($"job {spec.Name} ran longer than {limit}");
        }
        if (process.ExitCode != 0)
            throw new UserFacingException($"job {spec.Name} failed (exit {process.ExitCode}):\n{stdout.Result}\n{stderr.Result}");
        return JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "run", "summary.json"))).RootElement.Clone();
    }
}
