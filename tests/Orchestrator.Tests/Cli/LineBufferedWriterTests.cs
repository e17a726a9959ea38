using System.Text;
using Orchestrator.Silos.Terminal;

namespace Orchestrator.Tests.Cli;

/// <summary>Each line reaches the pipe in one write, so mpiexec's rank prefixes never land mid-line.</summary>
public sealed class LineBufferedWriterTests
{
    private sealed class RecordingWriter : TextWriter
    {
        public List<string> Writes { get; } = [];
        public override Encoding Encoding => Encoding.UTF8;
        public override void Write(char value) => Writes.Add(value.ToString());
        public override void Write(string? value) => Writes.Add(value ?? "");
    }

    [Fact]
    public void Pieces_of_a_line_are_written_together_and_a_partial_line_waits_for_flush()
    {
        var inner = new RecordingWriter();
        using var writer = new LineBufferedWriter(inner);
        writer.Write("note:");
        writer.Write(' ');
        writer.Write("resumed from step 10\nepoch");
        writer.Write(" 1/2".ToCharArray(), 0, 4);
        Assert.Equal(["note: resumed from step 10\n"], inner.Writes);
        writer.WriteLine(" step 11");
        writer.Write("tail");
        writer.Flush();
        Assert.Equal(["note: resumed from step 10\n", "epoch 1/2 step 11" + Environment.NewLine, "tail"], inner.Writes);
    }
}
