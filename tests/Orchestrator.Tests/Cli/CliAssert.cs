using System.Text.RegularExpressions;

namespace Orchestrator.Tests.Cli;

/// <summary>Checks on what the CLI printed.</summary>
internal static partial class CliAssert
{
    /// <summary>Exit code 2 (a problem the user fixes), every fragment in the output, and no stack trace.</summary>
    public static void UserError(CliResult result, params string[] fragments)
    {
        Assert.True(result.ExitCode == 2, $"expected exit code 2 (user error), got:\n{result}");
        Assert.Contains("error:", result.Output, StringComparison.Ordinal);
        Contains(result, fragments);
        NoStackTrace(result);
    }

    /// <summary>Exit code 0 and every fragment in the output.</summary>
    public static void Success(CliResult result, params string[] fragments)
    {
        Assert.True(result.ExitCode == 0, $"expected exit code 0, got:\n{result}");
        Contains(result, fragments);
        NoStackTrace(result);
    }

    public static void Contains(CliResult result, params string[] fragments)
    {
        foreach (var fragment in fragments)
            Assert.True(result.Output.Contains(fragment, StringComparison.Ordinal), $"expected the output to contain \"{fragment}\", got:\n{result}");
    }

    /// <summary>No frames ("   at ..."), no exception type names: a user error is one message, not a crash dump.</summary>
    public static void NoStackTrace(CliResult result)
    {
        Assert.False(StackFrame().IsMatch(result.Output), $"stack trace in the output:\n{result}");
        Assert.DoesNotContain("Exception", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled", result.Output, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"^\s+at \S", RegexOptions.Multiline)]
    private static partial Regex StackFrame();
}
