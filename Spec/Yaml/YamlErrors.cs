using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Orchestrator.Spec;

/// <summary>Loads YAML text, turning parser failures into short user-facing text with a line.</summary>
internal static partial class YamlErrors
{
    /// <summary>Parses <paramref name="text"/>; on failure gives the reason and the (1-based) line it concerns.</summary>
    public static bool TryLoad(string text, out YamlStream stream, out string problem, out int? line)
    {
        stream = new YamlStream();
        var parser = new Parser(new StringReader(text));
        try
        {
            stream.Load(parser);
            (problem, line) = ("", null);
            return true;
        }
        catch (YamlException ex)
        {
            (problem, line) = (Describe(ex), checked((int)ex.Start.Line));
            // YamlDotNet marks a tab in indentation at the start of the enclosing mapping (often line 1),
            // which hides the culprit; point at the first tab-indented line instead.
            if (problem.Contains("tab", StringComparison.Ordinal) && FirstTabIndentedLine(text) is int tabLine)
                line = tabLine;
            return false;
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet 16 throws this instead of a YamlException for some truncated flow collections
            // ("epochs: [1, 2" then more lines); the last event parsed is the best location there is.
            (problem, line) = ("unexpected structure (an unclosed '[' or '{'?)", parser.Current is { } last ? checked((int)last.Start.Line) : null);
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
        return MarkPrefix().Replace(message, "").Trim();
    }

    [GeneratedRegex(@"^\(Line: \d+, Col: \d+, Idx: \d+\) - \(Line: \d+, Col: \d+, Idx: \d+\): ")]
    private static partial Regex MarkPrefix();
}
