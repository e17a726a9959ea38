namespace Orchestrator.Tests.Cli;

/// <summary>
/// A command line the parser rejects is a mistake in the input: exit code 2 (not System.CommandLine's 1), its
/// message marked <c>error:</c> with the help, no stack trace; a numeric option outside its range is one of them,
/// reported before anything runs.
/// </summary>
public sealed class CommandLineErrorCliTests
{
    [Theory]
    [InlineData(new[] { "bench", "train", "--runs", "0" }, "--runs: must be >= 1, got 0")]
    [InlineData(new[] { "bench", "train", "--steps", "0" }, "--steps: must be >= 1, got 0")]
    [InlineData(new[] { "bench", "train", "--warmup", "-1" }, "--warmup: must be >= 0, got -1")]
    [InlineData(new[] { "bench", "train", "--threads", "-3" }, "--threads: must be >= 0, got -3")]
    [InlineData(new[] { "bench", "train", "--workers", "0" }, "--workers: must be 1..1024, got 0")]
    [InlineData(new[] { "bench", "large-batch", "--seeds", "0" }, "--seeds: must be >= 1, got 0")]
    [InlineData(new[] { "bench", "large-batch", "--lr", "-0.1" }, "--lr: must be > 0, got -0.1")]
    [InlineData(new[] { "bench", "large-batch", "--lr", "NaN" }, "--lr: must be > 0, got NaN")]
    [InlineData(new[] { "bench", "large-batch", "--small-batch", "0" }, "--small-batch: must be >= 1, got 0")]
    [InlineData(new[] { "bench", "large-batch", "--rows", "1,9" }, "--rows: must be row numbers 1..6 separated by commas (e.g. 1,2,5), got '1,9'")]
    [InlineData(new[] { "bench", "codecs", "--elements", "0" }, "--elements: must be 1..536870911, got 0")]
    [InlineData(new[] { "bench", "codecs", "--repeats", "0" }, "--repeats: must be >= 1, got 0")]
    [InlineData(new[] { "bench", "compression", "--seeds", "0" }, "--seeds: must be >= 1, got 0")]
    [InlineData(new[] { "bench", "compression", "--train-subset", "-5" }, "--train-subset: must be >= 0, got -5")]
    [InlineData(new[] { "bench", "allreduce", "--ranks", "1" }, "--ranks: must be >= 2, got 1")]
    [InlineData(new[] { "bench", "allreduce", "--timeout", "0" }, "--timeout: must be >= 1, got 0")]
    [InlineData(new[] { "bench", "metrics", "--scrape-workers", "0" }, "--scrape-workers: must be 1..1024, got 0")]
    [InlineData(new[] { "bench", "control-plane", "--callers", "0" }, "--callers: must be >= 1, got 0")]
    [InlineData(new[] { "train", "spec.yaml", "--metrics-port", "70000" }, "--metrics-port: must be 0 (off) or a port 1..65535, got 70000")]
    [InlineData(new[] { "run", "spec.yaml", "--workers", "0" }, "--workers: must be 1..1024, got 0")]
    [InlineData(new[] { "run", "spec.yaml", "--slots", "0" }, "--slots: must be >= 1, got 0")]
    [InlineData(new[] { "submit", "spec.yaml", "--workers", "2000" }, "--workers: must be 1..1024, got 2000")]
    [InlineData(new[] { "scale", "some-job", "--workers", "0" }, "--workers: must be 1..1024, got 0")]
    [InlineData(new[] { "logs", "some-job", "--tail", "-1" }, "--tail: must be >= 0, got -1")]
    [InlineData(new[] { "logs", "some-job", "--rank", "-1" }, "--rank: must be >= 0, got -1")]
    public void Numeric_option_out_of_range_names_the_option_and_the_range_with_exit_2(string[] args, string message)
    {
        using var dir = new TempDirectory();
        // Rejected while parsing: no spec file, data, silo or peer is touched, so none needs to exist.
        var result = CliRunner.Run(dir.Path, args, TimeSpan.FromSeconds(60));

        CliAssert.UserError(result, "error: " + message);
    }

    [Fact]
    public void Every_option_out_of_range_is_reported_at_once()
    {
        using var dir = new TempDirectory();
        var result = CliRunner.Run(dir.Path, ["bench", "train", "--steps", "0", "--threads", "-3"], TimeSpan.FromSeconds(60));

        CliAssert.UserError(result, "error: --steps: must be >= 1, got 0", "error: --threads: must be >= 0, got -3");
    }

    [Fact]
    public void Large_batch_that_is_not_a_multiple_of_the_small_batch_is_refused_before_training()
    {
        using var dir = new TempDirectory();
        // A data root that does not exist: the check must come before the data is loaded.
        var result = CliRunner.Run(dir.Path, ["bench", "large-batch", "--large-batch", "1000", "--small-batch", "128", "--root", dir.File("none")],
            TimeSpan.FromSeconds(60));

        CliAssert.UserError(result, "--large-batch: must be a multiple of --small-batch (128), got 1000");
    }

    [Theory]
    [InlineData(new[] { "train" }, "Required argument missing for command: 'train'.")]
    [InlineData(new[] { "train", "spec.yaml", "--bogus" }, "Unrecognized command or argument '--bogus'.")]
    [InlineData(new[] { "train", "spec.yaml", "--out" }, "Required argument missing for option: '--out'.")]
    [InlineData(new[] { "bogus" }, "Unrecognized command or argument 'bogus'.")]
    [InlineData(new[] { "bench", "bogus" }, "Unrecognized command or argument 'bogus'.")]
    [InlineData(new[] { "bench", "train", "--runs", "many" }, "Cannot parse argument 'many' for option '--runs'")]
    public void Syntax_error_exits_2_with_the_parsers_message_and_help(string[] args, string message)
    {
        using var dir = new TempDirectory();
        var result = CliRunner.Run(dir.Path, args, TimeSpan.FromSeconds(60));

        Assert.True(result.ExitCode == 2, $"expected exit code 2 (user error), got:\n{result}");
        CliAssert.Contains(result, "error: " + message, "Usage:");
        Assert.DoesNotContain("   at ", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Allowed_values_listed_under_a_message_are_not_marked_as_errors_themselves()
    {
        using var dir = new TempDirectory();
        var result = CliRunner.Run(dir.Path, ["bench", "allreduce", "--transport", "udp"], TimeSpan.FromSeconds(60));

        CliAssert.UserError(result, "error: Argument 'udp' not recognized. Must be one of:", "\t'shm'", "\t'tcp'");
        Assert.DoesNotContain("error: \t", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Help_is_not_an_error()
    {
        using var dir = new TempDirectory();
        var result = CliRunner.Run(dir.Path, ["bench", "train", "--help"], TimeSpan.FromSeconds(60));

        CliAssert.Success(result, "--runs", "Usage:");
        Assert.DoesNotContain("error:", result.Output, StringComparison.Ordinal);
    }
}
