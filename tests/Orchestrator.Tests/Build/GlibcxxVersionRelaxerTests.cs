namespace Orchestrator.Tests.Build;

/// <summary>
/// The build step that lets TorchSharp's native library load where libstdc++ lacks a GLIBCXX version it asks for
/// (Trainer/Build/RelaxGlibcxxVersions.cs), on copies of the real libLibTorchSharp.so in the test output.
/// </summary>
public sealed class GlibcxxVersionRelaxerTests : IDisposable
{
    private static readonly string BuiltLibrary = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");

    private readonly TempDirectory dir = new();
    private readonly string copy;
    private readonly byte[] original;

    public GlibcxxVersionRelaxerTests()
    {
        Assert.True(File.Exists(BuiltLibrary), $"{BuiltLibrary} is missing: TorchSharp's natives are copied to the test output by the build");
        copy = dir.File("libLibTorchSharp.so");
        File.Copy(BuiltLibrary, copy);
        original = File.ReadAllBytes(copy);
    }

    public void Dispose() => dir.Dispose();

    [Fact]
    public void Only_the_versions_the_system_lacks_are_marked_weak_and_nothing_else_changes()
    {
        var before = GlibcxxVersionRelaxer.ReadNeeds(original);
        var strong = before.Where(n => n.Version.StartsWith("GLIBCXX_", StringComparison.Ordinal) && !n.IsWeak).Select(n => n.Version).ToList();
        Assert.True(strong.Count >= 2, "the library should need several GLIBCXX versions");
        // A system that lacks two of the versions the library needs (and has every other).
        var missing = strong.Take(2).ToHashSet();
        var provided = before.Select(n => n.Version).Where(v => !missing.Contains(v)).ToHashSet();

        var relaxed = GlibcxxVersionRelaxer.Relax(copy, provided);

        Assert.Equal(missing.Order(), relaxed.Order());
        var after = GlibcxxVersionRelaxer.ReadNeeds(File.ReadAllBytes(copy));
        Assert.Equal(before.Count, after.Count);
        foreach (var (was, now) in before.Zip(after))
        {
            Assert.Equal((was.File, was.Version, was.FlagsOffset), (now.File, now.Version, now.FlagsOffset));
            ushort expected = missing.Contains(was.Version) ? (ushort)(was.Flags | GlibcxxVersionRelaxer.VerFlgWeak) : was.Flags;
            Assert.True(expected == now.Flags, $"{now.Version} in {now.File}: flags {now.Flags:x}, expected {expected:x}");
        }
        // Byte for byte: only the flags of the two relaxed entries differ.
        var flagBytes = before.Where(n => missing.Contains(n.Version)).SelectMany(n => new[] { n.FlagsOffset, n.FlagsOffset + 1 }).ToHashSet();
        var changed = Differences(original, File.ReadAllBytes(copy));
        Assert.NotEmpty(changed);
        Assert.Subset(flagBytes, changed.ToHashSet());
    }

    [Fact]
    public void A_second_run_changes_nothing()
    {
        var provided = GlibcxxVersionRelaxer.ReadNeeds(original).Select(n => n.Version).Where(v => v != "GLIBCXX_3.4.21").ToHashSet();
        Assert.Equal(["GLIBCXX_3.4.21"], GlibcxxVersionRelaxer.Relax(copy, provided));
        var once = File.ReadAllBytes(copy);

        var again = GlibcxxVersionRelaxer.Relax(copy, provided);

        Assert.Empty(again);
        Assert.Equal(once, File.ReadAllBytes(copy));
    }

    [Fact]
    public void Nothing_changes_where_the_system_has_every_version()
    {
        var provided = GlibcxxVersionRelaxer.ReadNeeds(original).Select(n => n.Version).ToHashSet();

        Assert.Empty(GlibcxxVersionRelaxer.Relax(copy, provided));
        Assert.Equal(original, File.ReadAllBytes(copy));
    }

    [Fact]
    public void The_built_library_is_weak_exactly_where_this_system_lacks_the_version()
    {
        // What the build did to the test output: TorchSharp 0.107 ships every need strong, and the build step
        // relaxes a GLIBCXX need if and only if this system's libstdc++ lacks it (Debian 12: GLIBCXX_3.4.32).
        var system = GlibcxxVersionRelaxer.SystemVersions();
        Assert.NotNull(system);
        var glibcxx = GlibcxxVersionRelaxer.ReadNeeds(original).Where(n => n.Version.StartsWith("GLIBCXX_", StringComparison.Ordinal)).ToList();
        Assert.Contains(glibcxx, n => n.Version == "GLIBCXX_3.4.32");
        Assert.All(glibcxx, n => Assert.True(n.IsWeak == !system.Contains(n.Version),
            $"{n.Version}: weak {n.IsWeak}, but the system {(system.Contains(n.Version) ? "has" : "lacks")} it"));
        Assert.All(GlibcxxVersionRelaxer.ReadNeeds(original).Where(n => !n.Version.StartsWith("GLIBCXX_", StringComparison.Ordinal)),
            n => Assert.False(n.IsWeak, $"{n.Version} of {n.File} is not the relaxer's to touch"));
    }

    [Fact]
    public void System_versions_are_read_whole_so_3_4_3_and_3_4_30_stay_apart()
    {
        var image = "\0\0GLIBCXX_3.4\0junk GLIBCXX_3.4.30\0GLIBCXX_3.4.3\0GLIBCXX_3.4.30\0"u8.ToArray();

        Assert.Equal(["GLIBCXX_3.4", "GLIBCXX_3.4.3", "GLIBCXX_3.4.30"], GlibcxxVersionRelaxer.VersionsIn(image).Order());
    }

    [Fact]
    public void A_file_that_is_not_an_elf_library_is_refused_and_left_as_it_was()
    {
        var text = dir.File("not-elf.so");
        File.WriteAllText(text, new string('x', 200));

        Assert.Throws<InvalidDataException>(() => GlibcxxVersionRelaxer.Relax(text, new HashSet<string>()));
        Assert.Equal(new string('x', 200), File.ReadAllText(text));
    }

    private static List<long> Differences(byte[] a, byte[] b)
    {
        Assert.Equal(a.Length, b.Length);
        var at = new List<long>();
        for (long i = 0; i < a.Length; i++)
            if (a[i] != b[i]) at.Add(i);
        return at;
    }
}
