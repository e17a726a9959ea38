using System.IO.Compression;
using System.Text.RegularExpressions;
using Orchestrator.Bench.Drivers;
using Orchestrator.Tests.Observability;
using static Orchestrator.Tests.Deployment.KubernetesTools;

namespace Orchestrator.Tests.Deployment;

/// <summary>
/// The container builds of <c>k8s/images/</c>, without building them: no image registry is reachable here, so their base
/// images (the .NET SDK and runtime, NVIDIA's CUDA runtime) cannot be pulled (buildah itself installs and builds with chroot
/// isolation; see the README). What is checked instead: every path a Containerfile copies from the build context exists
/// and together they hold every project the publish needs; the publish they run (here of the CPU build, from this build's
/// output) holds the entrypoint, and the commands the images and manifests run are commands of that CLI; the
/// <c>-p:TorchBackend=cuda</c> switch restores <c>libtorch-cuda-12.8-linux-x64</c> where a feed has it (a stand-in package
/// on a local feed: the real one is not served here); and every image the manifests reference has a Containerfile command
/// that builds it, with the CUDA backend exactly for the <c>-cuda</c> images.
/// </summary>
public sealed class ImageTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(5);

    public static TheoryData<string> Containerfiles => ["silo.Containerfile", "worker.Containerfile"];

    [Theory]
    [MemberData(nameof(Containerfiles))]
    public void Every_path_copied_from_the_context_exists_and_the_copies_hold_every_project_of_the_publish(string name)
    {
        var file = Containerfile.Read(name);
        var copied = file.ContextCopies();
        Assert.NotEmpty(copied);
        foreach (var source in copied)
            Assert.True(File.Exists(RepoFiles.Path(source)) || Directory.Exists(RepoFiles.Path(source)), $"{name}: COPY {source}: not in the repository");

        var publish = Assert.Single(file.Instructions, i => i.Keyword == "RUN" && i.Text.Contains("dotnet publish", StringComparison.Ordinal));
        var project = Regex.Match(publish.Text, @"dotnet publish (\S+\.csproj)").Groups[1].Value;
        Assert.Contains("-p:TorchBackend=${TORCH_BACKEND}", publish.Text);
        foreach (var needed in ProjectClosure(project).Concat(["global.json", "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props"]))
            Assert.True(copied.Any(c => Covers(c, needed)), $"{name}: the publish of {project} needs {needed}, which no COPY brings");

        var ignored = File.ReadAllLines(RepoFiles.Path(".dockerignore"));
        Assert.Contains("**/bin", ignored);
        Assert.Contains("**/obj", ignored); // a host build's restore state must not reach the image's
    }

    [Fact]
    public void The_publish_holds_the_entrypoint_and_the_commands_the_images_and_manifests_run_exist()
    {
        using var dir = new TempDirectory();
        var output = dir.File("out");
        // The Release build of the solution (done before the tests run) published without rebuilding: the CPU variant of
        // what the images' build stage publishes into /out.
        var published = ChildProcess.Run("dotnet", ["publish", RepoFiles.Path("Silos/Silos.csproj"), "-c", "Release", "--no-build", "-o", output, "-nologo"],
            Limit, "the .NET SDK");
        Assert.True(published.ExitCode == 0, published.Stdout + published.Stderr);

        var commands = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in new[] { "silo.Containerfile", "worker.Containerfile" })
        {
            var file = Containerfile.Read(name);
            var copy = Assert.Single(file.Instructions, i => i.Keyword == "COPY" && i.Text.StartsWith("--from=build ", StringComparison.Ordinal));
            var (from, to) = (copy.Words[1], copy.Words[2]);
            Assert.Equal("/out", from);
            var entrypoint = file.JsonArray("ENTRYPOINT");
            Assert.Equal("dotnet", entrypoint[0]);
            Assert.StartsWith(to + "/", entrypoint[1]);
            Assert.True(File.Exists(Path.Combine(output, entrypoint[1][(to.Length + 1)..])), $"{name}: the entrypoint {entrypoint[1]} is not in the publish output");
            commands.Add(file.JsonArray("CMD")[0]);
        }
        // What the launcher loads next to the entrypoint: the loopback preload and TorchSharp's natives.
        Assert.True(File.Exists(Path.Combine(output, "native", "liborchestrator-loopback.so")));
        Assert.True(File.Exists(Path.Combine(output, "runtimes", "linux-x64", "native", "libLibTorchSharp.so")));

        var (objects, _) = Render("cpu");
        foreach (var set in objects.Where(o => Kind(o) == "StatefulSet"))
            foreach (var container in List(set, "spec", "template", "spec", "containers").Where(c => Str(c, "image").Contains("/orchestrator-", StringComparison.Ordinal)))
                commands.Add(List(container, "args").Cast<string>().First());
        commands.Add("train"); // what every rank runs (LocalMpiLauncher)
        Assert.Contains("up", commands);
        foreach (var command in commands.Where(c => !c.StartsWith('-')))
        {
            var help = ChildProcess.Run("dotnet", [Path.Combine(output, "orchestrator.dll"), command, "--help"], Limit, "the .NET runtime");
            Assert.True(help.ExitCode == 0 && help.Stdout.Contains($"orchestrator {command} ", StringComparison.Ordinal),
                $"`orchestrator {command}` (run by an image or a manifest) is not a command of the CLI:\n{help.Stdout}{help.Stderr}");
        }
        // The check above can fail: an unknown command gets the root's usage, not its own.
        var unknown = ChildProcess.Run("dotnet", [Path.Combine(output, "orchestrator.dll"), "no-such-command", "--help"], Limit, "the .NET runtime");
        Assert.DoesNotContain("orchestrator no-such-command ", unknown.Stdout);
    }

    [Fact]
    public void The_cuda_switch_restores_the_cuda_libtorch_where_a_feed_has_it()
    {
        using var dir = new TempDirectory();
        // The build context as the images see it: what the Containerfile copies, without bin/ and obj/ (.dockerignore).
        var context = dir.File("src");
        foreach (var source in Containerfile.Read("worker.Containerfile").ContextCopies())
            CopyWithoutBuildOutput(RepoFiles.Path(source), Path.Combine(context, source));
        // A stand-in for nuget.org's libtorch-cuda-12.8-linux-x64 2.10.0 (not served here), on a local folder feed; restored
        // packages go to a fresh folder, with the machine's package cache as a read-only fallback (the stand-in never reaches it).
        var feed = Directory.CreateDirectory(dir.File("feed")).FullName;
        WriteStubPackage(feed, "libtorch-cuda-12.8-linux-x64", "2.10.0");
        var cache = ChildProcess.Run("dotnet", ["nuget", "locals", "global-packages", "--list"], Limit, "the .NET SDK");
        var fallback = Regex.Match(cache.Stdout, @"global-packages:\s*(\S+)").Groups[1].Value;
        Assert.True(Directory.Exists(fallback), cache.Stdout + cache.Stderr);
        File.WriteAllText(Path.Combine(context, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources><add key="stand-in" value="{feed}" /></packageSources>
              <fallbackPackageFolders><add key="machine-cache" value="{fallback}" /></fallbackPackageFolders>
              <config><add key="globalPackagesFolder" value="{dir.File("packages")}" /></config>
            </configuration>
            """);

        var restore = ChildProcess.Run("dotnet", ["restore", "Silos/Silos.csproj", "-p:TorchBackend=cuda", "-nologo"], Limit, "the .NET SDK", context);
        Assert.True(restore.ExitCode == 0, restore.Stdout + restore.Stderr);
        using var assets = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(context, "Trainer", "obj", "project.assets.json")));
        var libraries = assets.RootElement.GetProperty("libraries").EnumerateObject().Select(l => l.Name).ToList();
        Assert.Contains("libtorch-cuda-12.8-linux-x64/2.10.0", libraries);
        Assert.DoesNotContain(libraries, l => l.StartsWith("libtorch-cpu", StringComparison.Ordinal));
        Assert.Contains(libraries, l => l.StartsWith("TorchSharp/", StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(dir.File("packages"), "libtorch-cuda-12.8-linux-x64", "2.10.0", "libtorch-cuda-12.8-linux-x64.nuspec")));
    }

    [Fact]
    public void The_runtime_images_carry_every_shared_framework_the_cli_starts_with()
    {
        // orchestrator.runtimeconfig.json of this build: the shared frameworks `dotnet orchestrator.dll` refuses to start without.
        using var config = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "orchestrator.runtimeconfig.json")));
        var options = config.RootElement.GetProperty("runtimeOptions");
        var frameworks = (options.TryGetProperty("frameworks", out var many) ? many.EnumerateArray().ToList() : [options.GetProperty("framework")])
            .Select(f => f.GetProperty("name").GetString()!).ToList();
        Assert.Contains("Microsoft.AspNetCore.App", frameworks); // the Orleans dashboard's
        // Microsoft's images: runtime holds Microsoft.NETCore.App; aspnet holds it and Microsoft.AspNetCore.App.
        var provided = new Dictionary<string, string[]>(StringComparer.Ordinal)
        {
            ["runtime"] = ["Microsoft.NETCore.App"],
            ["aspnet"] = ["Microsoft.NETCore.App", "Microsoft.AspNetCore.App"],
        };
        foreach (var name in new[] { "silo.Containerfile", "worker.Containerfile" })
        {
            var file = Containerfile.Read(name);
            var images = new[] { file.ArgDefault("DOTNET") }.Concat(file.BuildCommands()
                .SelectMany(c => Regex.Matches(c, @"--build-arg BASE=(\S+)").Select(m => m.Groups[1].Value))
                .Concat([file.ArgDefault("BASE")]).Where(i => i.StartsWith("mcr.microsoft.com/dotnet/", StringComparison.Ordinal)));
            foreach (var image in images)
            {
                var kind = Regex.Match(image, @"^mcr\.microsoft\.com/dotnet/(\w+):").Groups[1].Value;
                Assert.True(provided.TryGetValue(kind, out var has), $"{name}: {image}: not a .NET runtime image this test knows");
                foreach (var framework in frameworks)
                    Assert.True(has.Contains(framework), $"{name}: {image} has no {framework}, which orchestrator.dll needs");
            }
        }
    }

    [Fact]
    public void Every_image_the_manifests_use_has_a_containerfile_command_with_the_matching_backend()
    {
        var builds = new[] { "silo.Containerfile", "worker.Containerfile" }.SelectMany(name =>
        {
            var file = Containerfile.Read(name);
            return file.BuildCommands().Select(command => (name, command, backend: Regex.Match(command, @"--build-arg TORCH_BACKEND=(\w+)") is { Success: true } m
                ? m.Groups[1].Value : file.ArgDefault("TORCH_BACKEND")));
        }).ToList();
        Assert.Equal(4, builds.Count);
        foreach (var overlay in new[] { "cpu", "gpu" })
        {
            var (objects, _) = Render(overlay);
            var images = objects.Where(o => Kind(o) is "StatefulSet" or "PodTemplate")
                .SelectMany(o => List(Kind(o) == "PodTemplate" ? Get(o, "template", "spec") : Get(o, "spec", "template", "spec"), "containers"))
                .Select(c => Str(c, "image")).Where(i => i.Contains("/orchestrator-", StringComparison.Ordinal)).Distinct().ToList();
            Assert.Equal(2, images.Count);
            foreach (var image in images)
            {
                var build = builds.SingleOrDefault(b => b.command.Contains($"-t {image} ", StringComparison.Ordinal));
                Assert.True(build.command is not null, $"overlay {overlay}: no Containerfile command builds {image}");
                Assert.Equal(image.Contains("-cuda:", StringComparison.Ordinal) ? "cuda" : "cpu", build.backend);
                var role = image.Contains("orchestrator-silo", StringComparison.Ordinal) ? "silo" : "worker";
                Assert.Equal($"{role}.Containerfile", build.name);
            }
        }
    }

    /// <summary>Every project directory <paramref name="project"/> references, transitively, itself included.</summary>
    private static IEnumerable<string> ProjectClosure(string project)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([project]);
        while (pending.TryPop(out var next))
        {
            if (!seen.Add(next)) continue;
            var directory = Path.GetDirectoryName(next)!;
            foreach (Match reference in Regex.Matches(File.ReadAllText(RepoFiles.Path(next)), "<ProjectReference Include=\"([^\"]+)\""))
                pending.Push(Path.GetRelativePath(RepoFiles.Root, Path.GetFullPath(Path.Combine(RepoFiles.Path(directory), reference.Groups[1].Value))));
        }
        return seen.Select(p => Path.GetDirectoryName(p)! + "/");
    }

    private static bool Covers(string copied, string needed) =>
        copied == needed || (copied.EndsWith('/') && needed.StartsWith(copied, StringComparison.Ordinal));

    private static void CopyWithoutBuildOutput(string source, string target)
    {
        if (File.Exists(source))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(source, target);
            return;
        }
        foreach (var path in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(source, path);
            if (relative.Split('/').Any(part => part is "bin" or "obj")) continue;
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(target, relative))!);
            File.Copy(path, Path.Combine(target, relative));
        }
    }

    private static void WriteStubPackage(string feed, string id, string version)
    {
        using var package = ZipFile.Open(Path.Combine(feed, $"{id}.{version}.nupkg"), ZipArchiveMode.Create);
        using var writer = new StreamWriter(package.CreateEntry($"{id}.nuspec").Open());
        writer.Write($"""
            <?xml version="1.0" encoding="utf-8"?>
            <package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
              <metadata><id>{id}</id><version>{version}</version><authors>test</authors><description>stand-in for the test</description></metadata>
            </package>
            """);
    }

    /// <summary>A Containerfile as instructions (continuation lines joined, comments apart).</summary>
    private sealed record Containerfile(IReadOnlyList<Containerfile.Instruction> Instructions, IReadOnlyList<string> Comments)
    {
        public sealed record Instruction(string Keyword, string Text)
        {
            public string[] Words => Text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        }

        public static Containerfile Read(string name)
        {
            var instructions = new List<Instruction>();
            var comments = new List<string>();
            var pending = "";
            foreach (var raw in File.ReadAllLines(RepoFiles.Path($"k8s/images/{name}")))
            {
                var line = raw.Trim();
                if (line.StartsWith('#')) { comments.Add(line.TrimStart('#').Trim()); continue; }
                if (line.Length == 0 && pending.Length == 0) continue;
                pending += line.TrimEnd('\\').Trim() + " ";
                if (line.EndsWith('\\')) continue;
                var text = pending.Trim();
                pending = "";
                var space = text.IndexOf(' ');
                instructions.Add(new Instruction(text[..space].ToUpperInvariant(), text[(space + 1)..].Trim()));
            }
            return new Containerfile(instructions, comments);
        }

        /// <summary>The sources of every COPY from the build context (not from a stage).</summary>
        public List<string> ContextCopies() => Instructions.Where(i => i.Keyword == "COPY" && !i.Text.StartsWith("--from", StringComparison.Ordinal))
            .SelectMany(i => i.Words[..^1]).ToList();

        public string[] JsonArray(string keyword) =>
            System.Text.Json.JsonSerializer.Deserialize<string[]>(Instructions.Last(i => i.Keyword == keyword).Text)!;

        public string ArgDefault(string name) =>
            Instructions.Where(i => i.Keyword == "ARG" && i.Text.StartsWith(name + "=", StringComparison.Ordinal)).Select(i => i.Text[(name.Length + 1)..]).Single();

        /// <summary>The <c>podman build</c> commands of the header comment (continuations joined).</summary>
        public IEnumerable<string> BuildCommands()
        {
            var command = "";
            foreach (var line in Comments)
            {
                if (command.Length == 0 && !line.StartsWith("podman build", StringComparison.Ordinal)) continue;
                command += line.TrimEnd('\\').Trim() + " ";
                if (line.EndsWith('\\')) continue;
                yield return command;
                command = "";
            }
        }
    }
}
