using System.Text;

namespace Orchestrator.Silos.Terminal;

/// <summary>
/// Writes through to another writer, starting every line that begins with text with a fixed prefix. Blank lines
/// and indented continuation lines (System.CommandLine lists allowed values on tab-indented lines) stay as they are.
/// </summary>
internal sealed class LinePrefixWriter(TextWriter inner, string prefix) : TextWriter
{
    private bool atLineStart = true;

    public override Encoding Encoding => inner.Encoding;

    // TextWriter funnels every Write and WriteLine overload into Write(char), so this one override sees all text.
    public override void Write(char value)
    {
        if (atLineStart && !char.IsWhiteSpace(value))
            inner.Write(prefix);
        inner.Write(value);
        atLineStart = value == '\n';
    }

    public override void Flush() => inner.Flush();
}
