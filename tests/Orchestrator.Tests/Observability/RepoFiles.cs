namespace Orchestrator.Tests.Observability;

/// <summary>Files of the repository the tests run from (found by walking up to <c>Orchestrator.sln</c>).</summary>
internal static class RepoFiles
{
    public static string Root { get; } = Find();

    public static string Path(string relative) => System.IO.Path.Combine(Root, relative);

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Orchestrator.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"Orchestrator.sln not found above {AppContext.BaseDirectory}");
    }
}
