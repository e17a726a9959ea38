using System.Text;
using Orchestrator.Spec;
using static Orchestrator.Tests.Spec.SpecTestHelpers;

namespace Orchestrator.Tests.Spec;

/// <summary>Bounds on YAML input (size, nesting, scalar length, alias expansion) and on what errors echo.</summary>
public class YamlLimitsTests
{
    private static string NestedFlowMappings(int depth) =>
        "model: " + string.Concat(Enumerable.Repeat("{a: ", depth)) + "1" + new string('}', depth);

    [Fact]
    public void Flow_mapping_nested_thousands_deep_is_an_error_not_a_stack_overflow()
    {
        var error = FailsOnce("name: demo\n" + NestedFlowMappings(20_000));

        Assert.Equal($"nested deeper than the limit of {YamlLimits.MaxDepth} levels of mappings and lists (line 2)", error.ToString());
    }

    [Fact]
    public void Unclosed_flow_sequences_nested_deep_are_an_error()
    {
        var error = FailsOnce(new string('[', 200_000));
        Assert.Contains($"limit of {YamlLimits.MaxDepth} levels", error.Message);
    }

    [Fact]
    public void Block_mappings_nested_deeper_than_the_limit_are_an_error()
    {
        var yaml = new StringBuilder("name: demo\n");
        for (var i = 0; i < YamlLimits.MaxDepth + 5; i++)
            yaml.Append(' ', i * 2).Append("k:\n");
        var error = FailsOnce(yaml.ToString());
        Assert.Contains("nested deeper than the limit of 64", error.Message);
        Assert.Equal(YamlLimits.MaxDepth + 2, error.Line);
    }

    [Fact]
    public void Nesting_up_to_the_limit_reaches_the_schema()
    {
        // 64 levels (the model mapping included) parse; the error is about the unknown key, not the depth.
        var error = FailsOnce("name: demo\n" + NestedFlowMappings(YamlLimits.MaxDepth - 1));
        Assert.Equal("model.a: unknown field (line 2)", error.ToString());
    }

    [Fact]
    public void Scalar_longer_than_the_limit_is_an_error_that_shows_only_its_start()
    {
        var error = FailsOnce("name: demo\ndata:\n  root: /" + new string('d', 5000));

        Assert.Equal(3, error.Line);
        Assert.Equal($"a value of 5001 characters ('/{new string('d', 59)}... (5001 chars)') is longer than the limit of {YamlLimits.MaxScalarChars}",
            error.Message);
    }

    [Fact]
    public void Path_as_long_as_the_os_allows_is_accepted()
    {
        var root = "/" + new string('d', YamlLimits.MaxScalarChars - 1);
        Assert.Equal(root, Parse($"name: demo\ndata:\n  root: {root}").Data.Root);
    }

    [Fact]
    public void Document_larger_than_the_limit_is_an_error()
    {
        var yaml = "name: demo\n" + string.Concat(Enumerable.Repeat("# padding padding padding padding padding padding\n", 25_000));

        var error = FailsOnce(yaml);

        Assert.Null(error.Line);
        Assert.StartsWith("the document is too large: it is ", error.Message);
        Assert.EndsWith("bytes, more than the limit of 1 MiB (1048576 bytes)", error.Message);
    }

    [Fact]
    public void File_larger_than_the_limit_is_refused_before_it_is_read()
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "huge.yaml");
        using (var file = File.Create(path))
            file.SetLength(3L << 20);

        var ex = Assert.Throws<UserFacingException>(() => JobSpecLoader.LoadFile(path, []));

        Assert.Equal($"cannot read job spec {path}: it is 3145728 bytes, more than the limit of 1 MiB (1048576 bytes)", ex.Message);
    }

    [Fact]
    public void Aliases_that_multiply_are_an_error()
    {
        var yaml = new StringBuilder("name: demo\nx0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n");
        for (var i = 1; i < 10; i++)
            yaml.Append($"x{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]\n");

        var error = Fails(yaml.ToString()).Errors[0];

        Assert.Equal($"aliases expand the document to more than the limit of {YamlLimits.MaxExpandedNodes} nodes", error.Message);
    }

    [Fact]
    public void Aliases_that_nest_deeper_than_the_limit_are_an_error()
    {
        var yaml = new StringBuilder("name: demo\nx0: &a0 [1]\n");
        for (var i = 1; i < 70; i++)
            yaml.Append($"x{i}: &a{i} [*a{i - 1}]\n");

        var error = Fails(yaml.ToString()).Errors[0];

        Assert.StartsWith("an alias nests its anchor deeper than the limit of 64", error.Message);
    }

    [Theory]
    [InlineData("name: demo\nx: &a { y: 1, <<: *a }\n")]
    [InlineData("name: demo\nx: &a [1, [2, *a]]\n")]
    public void An_alias_to_a_collection_that_contains_it_is_an_error_not_an_endless_walk(string yaml)
    {
        // Found by the property test with an override "momentum.flip=&a # c\n1024workers<<: *a": the loader builds a cycle.
        Assert.StartsWith("the alias *a refers to a mapping or list that contains it (a cycle)", Fails(yaml).Errors[0].Message);
        Assert.Contains("a cycle", Fails("name: demo", "training.momentum=&a { b: *a }").Errors[0].Message);
    }

    [Fact]
    public void Long_values_are_shortened_in_type_and_choice_errors()
    {
        var longText = new string('x', 3000);

        var errors = Fails($"name: {longText}\ndevice: {longText}\nworkers: {longText}\nepochs: 1").Errors;

        var shown = $"'{new string('x', 60)}... (3000 chars)'";
        Assert.All(errors, e => Assert.True(e.ToString().Length < 400, e.ToString()));
        Assert.Contains(errors, e => e.Path == "name" && e.Message.EndsWith("got " + shown, StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Path == "device" && e.Message.EndsWith("got " + shown, StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Path == "workers" && e.Message == "expected an integer, got " + shown);
    }

    [Fact]
    public void Long_numbers_and_unknown_keys_are_shortened()
    {
        var digits = new string('9', 1000);
        var key = new string('k', 1000);

        var errors = Fails($"name: demo\ntraining: {{ epochs: {digits} }}\n{key}: 1").Errors;

        Assert.Contains(errors, e => e.Path == "training.epochs" && e.Message.StartsWith(new string('9', 60) + "... (1000 chars) is out of range", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Path == new string('k', 60) + "... (1000 chars)" && e.Message == "unknown field");
    }

    [Fact]
    public void Override_values_obey_the_same_limits()
    {
        var deep = "model=" + string.Concat(Enumerable.Repeat("{a: ", 20_000)) + "1" + new string('}', 20_000);

        var error = FailsOnce("name: demo", deep);

        Assert.Equal($"model: invalid value: nested deeper than the limit of {YamlLimits.MaxDepth} levels of mappings and lists (--set)", error.ToString());
    }

    [Fact]
    public void Override_paths_deeper_than_the_limit_are_an_error()
    {
        var error = FailsOnce("name: demo", string.Join('.', Enumerable.Repeat("a", 10_000)) + "=1");

        Assert.Equal("--set", error.Path);
        Assert.Contains("longer than the limit of 64 names or 4096 characters", error.Message);
        Assert.True(error.Message.Length < 300, error.Message);
    }

    [Fact]
    public void Malformed_override_text_is_shortened()
    {
        var error = FailsOnce("name: demo", new string('z', 5000));
        Assert.Equal($"expected dotted.path=value, got '{new string('z', 60)}... (5000 chars)'", error.Message);
    }

    [Fact]
    public void Long_override_path_of_an_unknown_field_is_shortened()
    {
        var error = FailsOnce("name: demo", "training." + new string('q', 2000) + "=1");
        Assert.Equal("training." + new string('q', 51) + "... (2009 chars)", error.Path);
    }

    [Fact]
    public void Merge_key_yamldotnet_cannot_build_is_a_user_error()
    {
        // Found by SpecPropertyTests: YamlDotNet 16 throws ArgumentException ("unsupported event") here.
        var error = FailsOnce("? NaNport<<: *amlp~augment<<: *a");
        Assert.StartsWith("malformed YAML: unexpected structure", error.Message);
    }
}
