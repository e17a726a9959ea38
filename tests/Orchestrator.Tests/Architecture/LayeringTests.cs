using System.Reflection;
using Orchestrator.Spec;
using Orchestrator.Trainer.Training;

namespace Orchestrator.Tests.Architecture;

/// <summary>
/// The project layering the code relies on: the spec language and the worker carry no control-plane engine, so a
/// worker image needs no Orleans and the spec can be used anywhere (CLI, grains, workers, tools).
/// </summary>
public sealed class LayeringTests
{
    private static IEnumerable<string> ReferencesOf(Assembly assembly) =>
        assembly.GetReferencedAssemblies().Select(a => a.Name ?? "");

    [Fact]
    public void The_trainer_references_neither_Orleans_nor_the_control_plane_contracts()
    {
        var references = ReferencesOf(typeof(TrainingRun).Assembly).ToList();
        Assert.Contains("Orchestrator.Spec", references);
        Assert.DoesNotContain(references, r => r.StartsWith("Orleans", StringComparison.Ordinal) || r.StartsWith("Microsoft.Orleans", StringComparison.Ordinal));
        Assert.DoesNotContain("Orchestrator.Contracts", references);
        Assert.DoesNotContain("Orchestrator.Scheduler", references);
    }

    [Fact]
    public void The_spec_language_depends_on_YamlDotNet_and_the_runtime_only()
    {
        var references = ReferencesOf(typeof(JobSpec).Assembly).ToList();
        Assert.Contains("YamlDotNet", references);
        Assert.All(references, r => Assert.True(
            r is "YamlDotNet" || r.StartsWith("System", StringComparison.Ordinal) || r is "netstandard" or "mscorlib",
            $"Orchestrator.Spec references {r}"));
    }

    [Fact]
    public void No_project_namespace_shadows_a_System_type()
    {
        var assemblies = new[] { typeof(JobSpec).Assembly, typeof(TrainingRun).Assembly, typeof(Orchestrator.Contracts.Grains.IJobGrain).Assembly,
            typeof(Orchestrator.Scheduler.Grains.JobGrain).Assembly, typeof(Orchestrator.Silos.Commands.RunCommand).Assembly };
        // Inside namespace Orchestrator.X.Console, `Console.WriteLine` would bind to the namespace, not System.Console.
        var runtime = new[] { typeof(object), typeof(Console), typeof(Uri), typeof(Enumerable), typeof(System.Diagnostics.Process) }
            .Select(t => t.Assembly).Distinct();
        var systemNames = runtime.SelectMany(a => a.GetExportedTypes()).Where(t => t.Namespace == "System")
            .Select(t => t.Name.Split('`')[0]).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("Console", systemNames); // the case that happened: Orchestrator.Silos.Console
        foreach (var assembly in assemblies)
            foreach (var ns in assembly.GetTypes().Select(t => t.Namespace).OfType<string>().Where(n => n.StartsWith("Orchestrator.", StringComparison.Ordinal)).Distinct())
                foreach (var segment in ns.Split('.').Skip(1))
                    Assert.False(systemNames.Contains(segment), $"namespace {ns} has a segment '{segment}' that shadows System.{segment}");
    }
}
