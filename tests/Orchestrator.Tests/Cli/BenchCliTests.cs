using System.Globalization;
using System.Text.RegularExpressions;

namespace Orchestrator.Tests.Cli;

/// <summary>The throughput benchmark runs end to end against the PyTorch peer (Debian python3-torch).</summary>
public sealed partial class BenchCliTests
{
    [Fact]
    public void Bench_train_measures_both_systems_and_prints_the_ratio()
    {
        using var dir = new TempDirectory();
        var result = CliRunner.Run(dir.Path, ["bench", "train", "--runs", "1", "--steps", "2", "--warmup", "1", "--threads", "1"], TimeSpan.FromMinutes(3));

        CliAssert.Success(result, "run 1: ours", "median");
        var ratio = Ratio().Match(result.Output);
        Assert.True(ratio.Success, $"no ratio line in:\n{result}");
        Assert.InRange(double.Parse(ratio.Groups[1].Value, CultureInfo.InvariantCulture), 0.05, 20);
    }

    [Fact]
    public void Bench_train_with_workers_measures_mpi_workers_against_pytorch_ddp()
    {
        using var dir = new TempDirectory();
        var result = CliRunner.Run(dir.Path, ["bench", "train", "--workers", "2", "--codecs", "nm+int8", "--runs", "1", "--steps", "2", "--warmup", "1"], TimeSpan.FromMinutes(4));

        CliAssert.Success(result, "run 1: ours nm+int8", "run 1: PyTorch DDP gloo", "ratio ours nm+int8/PyTorch DDP gloo = ");
    }

    [GeneratedRegex(@"ratio ours/PyTorch = ([0-9.]+)")]
    private static partial Regex Ratio();
}
