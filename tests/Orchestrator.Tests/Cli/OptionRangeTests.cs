using System.CommandLine;
using Orchestrator.Silos.Commands;

namespace Orchestrator.Tests.Cli;

/// <summary>The range validators every command's numeric options use, on a parser built here (no process).</summary>
public sealed class OptionRangeTests
{
    [Theory]
    [InlineData("1", null)]
    [InlineData("7", null)]
    [InlineData("0", "--n: must be >= 1, got 0")]
    [InlineData("-5", "--n: must be >= 1, got -5")]
    public void At_least_accepts_the_bound_and_refuses_below_it(string value, string? error)
    {
        var option = new Option<int>("--n") { DefaultValueFactory = _ => 3 }.AtLeast(1);

        Assert.Equal(error, SingleError(option, "--n", value));
    }

    [Theory]
    [InlineData("0", null)]
    [InlineData("65535", null)]
    [InlineData("65536", "--port: must be 0 (off) or a port 1..65535, got 65536")]
    [InlineData("-1", "--port: must be 0 (off) or a port 1..65535, got -1")]
    public void Between_is_inclusive_and_words_the_range_as_given(string value, string? error)
    {
        var option = new Option<int>("--port").Between(0, 65535, "0 (off) or a port 1..65535");

        Assert.Equal(error, SingleError(option, "--port", value));
    }

    [Theory]
    [InlineData("0.5", null)]
    [InlineData("0", "--lr: must be > 0, got 0")]
    [InlineData("NaN", "--lr: must be > 0, got NaN")]
    [InlineData("Infinity", "--lr: must be > 0, got Infinity")]
    public void Above_refuses_the_bound_itself_and_values_that_are_not_finite(string value, string? error)
    {
        var option = new Option<double>("--lr") { DefaultValueFactory = _ => 0.05 }.Above(0.0);

        Assert.Equal(error, SingleError(option, "--lr", value));
    }

    [Fact]
    public void Nullable_option_is_checked_only_when_given()
    {
        var option = new Option<int?>("--workers").Between(1, 1024);
        var root = new RootCommand { option };

        Assert.Empty(root.Parse([]).Errors);
        Assert.Null(root.Parse([]).GetValue(option));
        Assert.Equal("--workers: must be 1..1024, got 0", Assert.Single(root.Parse(["--workers", "0"]).Errors).Message);
    }

    [Fact]
    public void Default_value_is_not_checked()
    {
        // The command's own default is trusted: the check is for what the user typed.
        var option = new Option<int>("--threads") { DefaultValueFactory = _ => -1 }.AtLeast(0);

        Assert.Empty(new RootCommand { option }.Parse([]).Errors);
    }

    [Fact]
    public void A_value_that_is_not_a_number_keeps_only_the_parsers_own_error()
    {
        var option = new Option<int>("--runs").AtLeast(1);

        var error = Assert.Single(new RootCommand { option }.Parse(["--runs", "many"]).Errors);
        Assert.Contains("'many'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("must be", error.Message, StringComparison.Ordinal);
    }

    private static string? SingleError(Option option, string name, string value)
    {
        var errors = new RootCommand { option }.Parse([name, value]).Errors;
        Assert.True(errors.Count <= 1, string.Join("\n", errors.Select(e => e.Message)));
        return errors.Count == 0 ? null : errors[0].Message;
    }
}
