using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Orchestrator.Spec;

/// <summary>Loads YAML text, turning parser failures into short user-facing text with a line.</summary>
internal static partial class YamlErrors
{
    /// <summary>
    /// Parses <paramref name="text"/> within <see cref="YamlLimits"/>; on failure gives the reason and the (1-based)
    /// line it concerns. A broken limit is described on its own ("nested deeper than the limit ..."); read through
    /// this overload it follows "malformed YAML: " as a syntax error does.
    /// </summary>
    public static bool TryLoad(string text, out YamlStream stream, out string problem, out int? line)
    {
        var ok = TryLoad(text, out stream, out YamlProblem? found);
        (problem, line) = found is { } p ? (p.Message, p.Line) : ("", null);
        return ok;
    }

    /// <summary>Parses <paramref name="text"/> within <see cref="YamlLimits"/>; on failure says what is wrong and where.</summary>
    public static bool TryLoad(string text, out YamlStream stream, [NotNullWhen(false)] out YamlProblem? problem)
    {
        stream = new YamlStream();
        Parser? parser = null;
        try
        {
            // Limits first, on the event stream: loading builds the tree recursively.
            if (YamlLimits.Check(text) is { } limit)
            {
                problem = new YamlProblem(limit.Problem, limit.Line, OverLimit: true);
                return false;
            }
            parser = new Parser(new StringReader(text));
            stream.Load(parser);
            problem = null;
            return true;
        }
        catch (YamlException ex)
        {
            int? line = checked((int)ex.Start.Line);
            var message = Describe(ex);
            // YamlDotNet marks a tab in indentation at the start of the enclosing mapping (often line 1),
            // which hides the culprit; point at the first tab-indented line instead.
            if (message.Contains("tab", StringComparison.Ordinal) && FirstTabIndentedLine(text) is int tabLine)
                line = tabLine;
            problem = new YamlProblem(message, line, OverLimit: false);
            return false;
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
        {
            // YamlDotNet 16 throws these instead of a YamlException for some truncated flow collections
            // ("epochs: [1, 2" then more lines: InvalidOperationException) and for some keys it cannot build a node for
            // ("? x<<: *a": ArgumentException "unsupported event"); the last event parsed is the best location there is.
            problem = new YamlProblem("unexpected structure (an unclosed '[' or '{'?)",
                parser?.Current is { } last ? checked((int)last.Start.Line) : null, OverLimit: false);
            return false;
        }
    }

    private static int? FirstTabIndentedLine(string text)
    {
        var lines = text.ReplaceLineEndings("\n").Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var indentation = lines[i].AsSpan(0, lines[i].Length - lines[i].TrimStart().Length);
            if (indentation.Contains('\t'))
                return i + 1;
        }
        return null;
    }

    /// <summary>The parser's message without its "(Line: 3, Col: 5, Idx: 20) - (…): " prefix; the line is reported separately.</summary>
    private static string Describe(YamlException ex)
    {
        var message = ex.InnerException is YamlException inner && !string.IsNullOrWhiteSpace(inner.Message)
            ? inner.Message
            : ex.Message;
        // The parser quotes the text it stopped at; a long line must not flood the message.
        return SpecText.Shorten(MarkPrefix().Replace(message, "").Trim());
    }

    [GeneratedRegex(@"^\(Line: \d+, Col: \d+, Idx: \d+\) - \(Line: \d+, Col: \d+, Idx: \d+\): ")]
    private static partial Regex MarkPrefix();
}

/// <summary>Why a YAML text could not be loaded.</summary>
/// <param name="Message">What is wrong, without location.</param>
/// <param name="Line">1-based line it concerns; null for the document as a whole (its size).</param>
/// <param name="OverLimit">A <see cref="YamlLimits"/> bound rather than a syntax error.</param>
internal sealed record YamlProblem(string Message, int? Line, bool OverLimit)
{
    /// <summary>The message as a spec error shows it: limits as they are, syntax errors after "malformed YAML: ".</summary>
    public string Text => OverLimit ? Message : $"malformed YAML: {Message}";
}
