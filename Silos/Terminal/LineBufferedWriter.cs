using System.Text;

namespace Orchestrator.Silos.Terminal;

/// <summary>
/// Passes text on a whole line at a time. Spectre.Console writes a line in pieces (markup segments), and when a rank's
/// output goes through mpiexec's <c>-prepend-rank</c>, each piece that reaches the pipe on its own gets a <c>[R]</c> prefix,
/// so two ranks' lines interleave mid-line in the job log (<c>[0] note:[0]  resumed ...</c>). One write per line keeps
/// every line whole. Partial text is passed on by <see cref="Flush"/>.
/// </summary>
public sealed class LineBufferedWriter(TextWriter inner) : TextWriter
{
    private readonly StringBuilder pending = new();

    /// <inheritdoc/>
    public override Encoding Encoding => inner.Encoding;

    /// <inheritdoc/>
    public override void Write(char value)
    {
        pending.Append(value);
        if (value == '\n') PassOn();
    }

    /// <inheritdoc/>
    public override void Write(string? value)
    {
        if (string.IsNullOrEmpty(value)) return;
        pending.Append(value);
        if (value.Contains('\n', StringComparison.Ordinal)) PassOn();
    }

    /// <inheritdoc/>
    public override void Write(char[] buffer, int index, int count) => Write(new string(buffer, index, count));

    /// <inheritdoc/>
    public override void Flush()
    {
        if (pending.Length > 0)
        {
            inner.Write(pending.ToString());
            pending.Clear();
        }
        inner.Flush();
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) Flush();
        base.Dispose(disposing);
    }

    /// <summary>Writes every complete line pending in one call; keeps the rest.</summary>
    private void PassOn()
    {
        var text = pending.ToString();
        int end = text.LastIndexOf('\n') + 1;
        inner.Write(text[..end]);
        inner.Flush();
        pending.Clear().Append(text, end, text.Length - end);
    }
}
