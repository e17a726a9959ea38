namespace Orchestrator.Tests.Cli;

/// <summary>An output directory that cannot be created or written: exit code 2 naming it and --out, before any training.</summary>
public sealed class RunDirectoryCliTests
{
    // Tests run as root, where permission bits do not stop writes; a path through a regular file fails for everyone.
    [Theory]
    [InlineData("blocker/sub")]
    [InlineData("blocker")]
    public void Output_directory_that_cannot_be_created_is_named(string relative)
    {
        using var dir = new TempDirectory();
        var spec = CliSpecs.Write(dir, CliSpecs.Synthetic());
        File.WriteAllText(dir.File("blocker"), "a regular file, not a directory");
        var output = Path.Combine(dir.Path, relative);

        var result = CliRunner.Train(dir.Path, spec, "--out", output);

        CliAssert.UserError(result, $"--out {output}", "not writable", "choose another with --out");
        Assert.DoesNotContain("parameters on", result.Output, StringComparison.Ordinal); // training never started
    }
}
