using Orchestrator.Scheduler.Launchers;
using Orchestrator.Tests.Cli;

namespace Orchestrator.Tests.ControlPlane;

/// <summary>Tiny synthetic job specs and a launcher wired to the CLI built next to the tests.</summary>
internal static class ControlPlaneSpecs
{
    /// <summary>A one-epoch (or <paramref name="epochs"/>) MLP on generated data; no metrics endpoint (ports stay free).</summary>
    public static string Synthetic(string name = "cp-test", int epochs = 1) =>
        $$"""
        name: {{name}}
        device: cpu
        data: {dataset: synthetic}
        model: {kind: mlp, width: 2}
        training: {epochs: {{epochs}}, global_batch: 64, threads: 1}
        checkpoint: {every_steps: 2, keep: 5}
        metrics: {port: 0}

        """;

    /// <summary>The <c>local-mpi</c> launcher running the test output's <c>orchestrator.dll</c>.</summary>
    public static LocalMpiLauncher Launcher() => new(new LocalMpiOptions(CliRunner.EntryAssembly, CliRunner.DotnetHost()));

    /// <summary>Whether any live process has <paramref name="fragment"/> in its command line.</summary>
    public static bool AnyProcessMentions(string fragment)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId) continue;
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                var status = File.ReadAllText(Path.Combine(dir, "stat"));
                if (cmdline.Contains(fragment, StringComparison.Ordinal) && !status.Contains(") Z ", StringComparison.Ordinal)) return true;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return false;
    }
}
