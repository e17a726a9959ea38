namespace Orchestrator.Tests.Cli;

/// <summary>A bad job spec or <c>--set</c>: exit code 2 and one message naming the field, the problem and the line.</summary>
public sealed class SpecErrorCliTests
{
    [Fact]
    public void Malformed_yaml_is_reported_with_its_line()
    {
        using var dir = new TempDirectory();
        var spec = CliSpecs.Write(dir, """
            name: cli-test
            device: cpu
            data: {dataset: synthetic
            model: {kind: mlp, width: 2}

            """);

        var result = CliRunner.Train(dir.Path, spec);

        CliAssert.UserError(result, spec, "malformed YAML", "unclosed", "(line 3)");
    }

    [Fact]
    public void Integer_too_large_for_its_field_is_out_of_range_with_the_field_and_line()
    {
        using var dir = new TempDirectory();
        var spec = CliSpecs.Write(dir, """
            name: cli-test
            data: {dataset: synthetic}
            model: {kind: mlp, width: 2}
            training:
              epochs: 99999999999999

            """);

        var result = CliRunner.Train(dir.Path, spec);

        CliAssert.UserError(result, "training.epochs: 99999999999999 is out of range: this field holds at most 2147483647 (line 5)");
        Assert.DoesNotContain("expected an integer", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_key_is_named_with_a_suggestion_and_its_line()
    {
        using var dir = new TempDirectory();
        var spec = CliSpecs.Write(dir, """
            name: cli-test
            data: {dataset: synthetic}
            model: {kind: mlp, width: 2}
            training:
              epoch: 1
              global_batch: 64

            """);

        var result = CliRunner.Train(dir.Path, spec);

        CliAssert.UserError(result, "training.epoch: unknown field", "did you mean 'epochs'?", "(line 5)");
    }

    [Fact]
    public void Out_of_range_value_is_named_with_its_line()
    {
        using var dir = new TempDirectory();
        var spec = CliSpecs.Write(dir, """
            name: cli-test
            data: {dataset: synthetic}
            model: {kind: mlp, width: 2}
            training:
              epochs: 1
              global_batch: 0

            """);

        var result = CliRunner.Train(dir.Path, spec);

        CliAssert.UserError(result, "training.global_batch: must be >= 1 (line 6)");
    }

    [Fact]
    public void Every_error_in_the_file_is_reported_at_once()
    {
        using var dir = new TempDirectory();
        var spec = CliSpecs.Write(dir, """
            name: cli-test
            data: {dataset: synthetic}
            model: {kind: mlp, width: many}
            training:
              epoch: 1
              global_batch: 0
              threads: -1

            """);

        var result = CliRunner.Train(dir.Path, spec);

        CliAssert.UserError(result,
            $"invalid job spec {spec}: 4 errors",
            "model.width:", "(line 3)",
            "training.epoch: unknown field", "(line 5)",
            "training.global_batch: must be >= 1 (line 6)",
            "training.threads: must be >= 0 (line 7)");
    }

    [Fact]
    public void Unknown_override_path_is_named()
    {
        using var dir = new TempDirectory();
        var spec = CliSpecs.Write(dir, CliSpecs.Synthetic());

        var result = CliRunner.Train(dir.Path, spec, "--set", "training.nope=3");

        CliAssert.UserError(result, "training.nope", "unknown field", "--set");
    }

    [Fact]
    public void Override_with_a_value_of_the_wrong_type_is_named()
    {
        using var dir = new TempDirectory();
        var spec = CliSpecs.Write(dir, CliSpecs.Synthetic());

        var result = CliRunner.Train(dir.Path, spec, "--set", "training.epochs=zero");

        CliAssert.UserError(result, "training.epochs", "expected an integer", "'zero'", "--set");
    }

    [Fact]
    public void Override_without_a_value_is_reported()
    {
        using var dir = new TempDirectory();
        var spec = CliSpecs.Write(dir, CliSpecs.Synthetic());

        var result = CliRunner.Train(dir.Path, spec, "--set", "training.epochs");

        CliAssert.UserError(result, "--set: expected dotted.path=value, got 'training.epochs'");
    }

    [Fact]
    public void Missing_spec_file_is_named()
    {
        using var dir = new TempDirectory();
        var missing = dir.File("no-such-spec.yaml");

        var result = CliRunner.Train(dir.Path, missing);

        CliAssert.UserError(result, $"cannot read job spec {missing}: file not found");
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "runs")), "nothing is written for a spec that cannot be read");
    }

    [Fact]
    public void Spec_path_that_is_a_directory_is_named()
    {
        using var dir = new TempDirectory();

        var result = CliRunner.Train(dir.Path, dir.Path);

        CliAssert.UserError(result, $"cannot read job spec {dir.Path}: it is a directory");
    }
}
