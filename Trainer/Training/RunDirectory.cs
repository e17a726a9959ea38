using Orchestrator.Spec;

namespace Orchestrator.Trainer.Training;

/// <summary>The files of one run: metrics, summary, plots, resolved spec, checkpoints.</summary>
public sealed class RunDirectory
{
    private RunDirectory(string path) => Path = path;

    public string Path { get; }
    public string Metrics => System.IO.Path.Combine(Path, "metrics.jsonl");
    public string Summary => System.IO.Path.Combine(Path, "summary.json");
    public string Spec => System.IO.Path.Combine(Path, "spec.yaml");
    public string Checkpoints => System.IO.Path.Combine(Path, "checkpoints");

    /// <summary>Creates the directory if needed and proves it is writable before any training starts.</summary>
    public static RunDirectory Open(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        try
        {
            Directory.CreateDirectory(full);
            var probe = System.IO.Path.Combine(full, $".write-test-{Environment.ProcessId}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserFacingException($"--out {path}: output directory is not writable ({e.Message}); choose another with --out");
        }
        return new RunDirectory(full);
    }
}
