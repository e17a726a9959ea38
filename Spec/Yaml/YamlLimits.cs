using System.Text;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Orchestrator.Spec;

/// <summary>
/// Bounds on a YAML document (a spec file, a <c>--set</c> value, the silo config), checked on the parser's event
/// stream before anything builds a tree: YamlDotNet's representation model recurses once per level of nesting, so
/// a flow mapping nested many thousands deep overflowed the stack and took the process down.
/// </summary>
public static class YamlLimits
{
    /// <summary>Largest document, in bytes of UTF-8 (1 MiB; a full spec is about 2 KB).</summary>
    public const int MaxDocumentBytes = 1 << 20;

    /// <summary>Deepest nesting of mappings and lists (a spec needs 4: <c>training.regime.phases[i]</c>).</summary>
    public const int MaxDepth = 64;

    /// <summary>
    /// Longest scalar (value or key), in characters: 4096, Linux's PATH_MAX, so every path a field can name fits and
    /// no path field needs a larger limit.
    /// </summary>
    public const int MaxScalarChars = 4096;

    /// <summary>
    /// Most nodes a document may stand for once aliases are expanded. A plain 1 MiB document holds at most about
    /// 520 000; the bound stops anchors that refer to anchors (the "billion laughs") from multiplying the work.
    /// </summary>
    public const int MaxExpandedNodes = 1_000_000;

    /// <summary>The size limit, as error messages state it.</summary>
    public static string DocumentLimitText => $"1 MiB ({MaxDocumentBytes} bytes)";

    /// <summary>What is wrong with a document of <paramref name="bytes"/> bytes, or null when it is within the limit.</summary>
    public static string? SizeProblem(long bytes) =>
        bytes > MaxDocumentBytes ? $"it is {bytes} bytes, more than the limit of {DocumentLimitText}" : null;

    /// <summary>
    /// The first limit <paramref name="text"/> breaks, with its 1-based line (null for the size); null when it keeps
    /// them all. A syntax error ends the pass with null: the loader, parsing again, reports it, and gets no deeper
    /// into the document than this pass did.
    /// </summary>
    internal static (string Problem, int? Line)? Check(string text)
    {
        // Cheap test first: UTF-8 needs at least one byte per char and at most three per UTF-16 char.
        if (text.Length > MaxDocumentBytes || (long)text.Length * 3 > MaxDocumentBytes)
        {
            if (SizeProblem(Encoding.UTF8.GetByteCount(text)) is { } size)
                return ($"the document is too large: {size}", null);
        }

        var parser = new Parser(new StringReader(text));
        var open = new Stack<Frame>();
        // Expanded size and height (collections below and including the node) of every anchored node so far.
        var anchors = new Dictionary<string, (long Nodes, int Height)>(StringComparer.Ordinal);
        long total = 0;
        string? problem = null;

        // A node of the given expanded size and height ends inside the innermost open collection; `added` of its
        // nodes are new to the running total (a collection's children were counted as they ended).
        bool Add(long nodes, long added, int height, AnchorName anchor, bool alias)
        {
            if (open.Count + height > MaxDepth)
            {
                problem = alias
                    ? $"an alias nests its anchor deeper than the limit of {MaxDepth} levels of mappings and lists"
                    : $"nested deeper than the limit of {MaxDepth} levels of mappings and lists";
                return false;
            }
            total += added;
            if (total > MaxExpandedNodes)
            {
                problem = $"aliases expand the document to more than the limit of {MaxExpandedNodes} nodes";
                return false;
            }
            if (open.Count > 0)
            {
                var parent = open.Peek();
                parent.Nodes += nodes;
                parent.Height = Math.Max(parent.Height, height);
            }
            if (!anchor.IsEmpty)
                anchors[anchor.Value] = (nodes, height);
            return true;
        }

        while (TryMoveNext(parser))
        {
            var current = parser.Current!;
            var ok = true;
            switch (current)
            {
                case Scalar scalar:
                    if (scalar.Value.Length > MaxScalarChars)
                    {
                        problem = $"a value of {scalar.Value.Length} characters ({SpecText.Quote(scalar.Value)}) " +
                                  $"is longer than the limit of {MaxScalarChars}";
                        ok = false;
                    }
                    else
                    {
                        ok = Add(1, 1, 0, scalar.Anchor, alias: false);
                    }
                    break;
                case AnchorAlias alias:
                    // An alias to a collection it is inside: the loader would build a cycle (endless to walk).
                    if (open.Any(f => !f.Anchor.IsEmpty && f.Anchor.Value == alias.Value.Value))
                    {
                        problem = $"the alias *{alias.Value.Value} refers to a mapping or list that contains it (a cycle)";
                        ok = false;
                    }
                    // An undefined alias is the loader's error to report.
                    else if (anchors.TryGetValue(alias.Value.Value, out var target))
                        ok = Add(target.Nodes, target.Nodes, target.Height, AnchorName.Empty, alias: true);
                    break;
                case MappingStart or SequenceStart:
                    if (open.Count + 1 > MaxDepth)
                    {
                        problem = $"nested deeper than the limit of {MaxDepth} levels of mappings and lists";
                        ok = false;
                    }
                    else
                    {
                        open.Push(new Frame(((NodeEvent)current).Anchor));
                    }
                    break;
                case MappingEnd or SequenceEnd when open.Count > 0:
                    var done = open.Pop();
                    ok = Add(done.Nodes + 1, 1, done.Height + 1, done.Anchor, alias: false);
                    break;
            }
            if (!ok)
                return (problem!, checked((int)current.Start.Line));
        }
        return null;
    }

    /// <summary>The parser's next event; false at the end of the text or at a syntax error (left to the loader).</summary>
    private static bool TryMoveNext(Parser parser)
    {
        try
        {
            return parser.MoveNext();
        }
        catch (Exception ex) when (ex is YamlException or InvalidOperationException or ArgumentException)
        {
            return false;
        }
    }

    private sealed class Frame(AnchorName anchor)
    {
        public AnchorName Anchor { get; } = anchor;

        public long Nodes { get; set; }

        public int Height { get; set; }
    }
}
