using System.Globalization;
using Orchestrator.Tests.Cli;

namespace Orchestrator.Tests.Collectives;

/// <summary><c>orchestrator bench allreduce</c> end to end on a small bucket: every row runs, and the wire sizes meet the compression goals.</summary>
public sealed class AllreduceBenchTests
{
    /// <summary>(codec, algorithm, largest allowed wire bytes / fp32 bytes).</summary>
    private static readonly (string Codec, string Algorithm, double MaxWireRatio)[] Expected =
    [
        ("none", "mpi", 1.0), ("none", "ring", 1.0), ("none", "allgather", 1.0),
        ("int8", "ring", 0.27), ("int8", "allgather", 0.27),
        ("2:4 mvue+int8", "ring", 0.17), ("2:4 mvue+int8", "allgather", 0.17),
        ("1:2 mvue+int8", "ring", 0.15), ("1:2 mvue+int8", "allgather", 0.15),
        ("2:4 mvue", "ring", 0.55),
    ];

    [Fact]
    public void Every_codec_and_algorithm_row_runs_and_the_wire_ratios_meet_the_goals()
    {
        using var dir = new TempDirectory();
        var record = Path.Combine(dir.Path, "allreduce.md");
        var result = CliRunner.Run(dir.Path, ["bench", "allreduce", "--ranks", "2", "--elements", "100000", "--repeats", "2", "--record", record],
            TimeSpan.FromMinutes(5));

        CliAssert.Success(result, "median ms", "wire / fp32", "time / MPI fp32");
        var markdown = File.ReadAllText(record);
        Assert.Contains("`orchestrator bench allreduce --ranks 2 --elements 100000 --repeats 2 --record ", markdown, StringComparison.Ordinal);
        Assert.Contains("load average", markdown, StringComparison.Ordinal);

        var rows = markdown.Split('\n')
            .Where(l => l.StartsWith("| ", StringComparison.Ordinal) && !l.StartsWith("| codec ", StringComparison.Ordinal))
            .Select(l => l.Trim().Trim('|').Split('|').Select(c => c.Trim()).ToArray())
            .ToList();
        Assert.Equal(Expected.Length, rows.Count);
        for (int i = 0; i < Expected.Length; i++)
        {
            var (codec, algorithm, maxRatio) = Expected[i];
            var cells = rows[i];
            Assert.True(cells[0] == codec && cells[1] == algorithm, $"row {i}: expected {codec} / {algorithm}, got {string.Join(" | ", cells)}\n{markdown}");
            Assert.True(double.TryParse(cells[2], NumberStyles.Float, CultureInfo.InvariantCulture, out double ms) && ms > 0,
                $"row {i} has no time: {string.Join(" | ", cells)}\n{result}");
            double ratio = double.Parse(cells[6], CultureInfo.InvariantCulture);
            Assert.True(ratio <= maxRatio, $"{codec}: wire ratio {ratio} exceeds the goal {maxRatio}");
            long sent = long.Parse(cells[5], NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
            // Two ranks, either algorithm: each rank sends one encoded bucket's worth (the ratio is printed to 3 decimals).
            Assert.InRange(sent, (long)((ratio - 0.0006) * 400_000), (long)((ratio + 0.0006) * 400_000));
        }
        Assert.Equal("1.00", rows[0][7]);
    }
}
