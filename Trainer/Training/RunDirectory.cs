using Orchestrator.Spec;

namespace Orchestrator.Trainer.Training;

/// <summary>The run directory the trainer writes (file names: <see cref="RunLayout"/>), proven writable when opened.</summary>
public sealed class RunDirectory
{
    private RunDirectory(string path) => Path = path;

    public string Path { get; }
    public string Metrics => RunLayout.Metrics(Path);
    public string Summary => RunLayout.Summary(Path);
    public string Spec => RunLayout.Spec(Path);
    public string Checkpoints => RunLayout.Checkpoints(Path);

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
