using System.Globalization;
using System.Text;
using Orchestrator.Spec;
using Orchestrator.Trainer.Checkpointing;

namespace Orchestrator.Trainer.Telemetry;

/// <summary>
/// A worker's own record of the dataset indices it trained on, one line per step: <c>step epoch offset i,j,k,...</c>.
/// The evidence behind "no sample is skipped or repeated across a rescale or restart": a test reads every rank's file
/// of every launch and counts each index of an epoch. Off unless <see cref="Variable"/> is set (a test hook; the
/// files grow by the dataset size per epoch).
/// </summary>
public sealed class SampleLog : IDisposable
{
    /// <summary>Set to <c>1</c> to record: each rank writes <c>DIR/samples/launch-L.rank-R.txt</c>.</summary>
    public const string Variable = Training.WorkerTestHooks.RecordSamplesVariable;

    private readonly StreamWriter writer;

    private SampleLog(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
    }

    /// <summary>The log of rank <paramref name="rank"/> in launch <paramref name="launch"/> when the variable asks for it; null otherwise.</summary>
    public static SampleLog? FromEnvironment(string runDirectory, int launch, int rank) =>
        Environment.GetEnvironmentVariable(Variable) == "1"
            ? new SampleLog(RunLayout.SampleLog(runDirectory, launch, rank))
            : null;

    /// <summary>Appends the step at <paramref name="position"/> and the indices this rank trained on (flushed: a killed worker keeps its lines).</summary>
    public void Record(TrainingPosition position, ReadOnlySpan<long> indices)
    {
        var line = new StringBuilder();
        line.Append(CultureInfo.InvariantCulture, $"{position.Step} {position.Epoch} {position.Offset} ");
        for (int i = 0; i < indices.Length; i++)
        {
            if (i > 0) line.Append(',');
            line.Append(indices[i].ToString(CultureInfo.InvariantCulture));
        }
        writer.WriteLine(line);
        writer.Flush();
    }

    /// <inheritdoc />
    public void Dispose() => writer.Dispose();
}
