using System.Text.RegularExpressions;
using YamlDotNet.Core;

namespace Orchestrator.Contracts.Spec;

/// <summary>Turns YamlDotNet's parser exceptions into short user-facing text.</summary>
internal static partial class YamlErrors
{
    /// <summary>The parser's message without its "(Line: 3, Col: 5, Idx: 20) - (…): " prefix; the line is reported separately.</summary>
    public static string Describe(YamlException ex)
    {
        var message = ex.InnerException is YamlException inner && !string.IsNullOrWhiteSpace(inner.Message)
            ? inner.Message
            : ex.Message;
        return MarkPrefix().Replace(message, "").Trim();
    }

    [GeneratedRegex(@"^\(Line: \d+, Col: \d+, Idx: \d+\) - \(Line: \d+, Col: \d+, Idx: \d+\): ")]
    private static partial Regex MarkPrefix();
}
