using System.Text.Json;
using Orchestrator.Tests.Collectives;
using Orchestrator.Trainer.Telemetry;

namespace Orchestrator.Tests.LowPrecision;

/// <summary>
/// Low-precision and sparse training under <c>mpirun.mpich -np 2</c>, together with the 2:4+int8 compressed allreduce: the
/// workers' parameter hashes are compared after every step (<c>--verify-every 1</c>), so a finished run proves the masks
/// and the quantized weights left every rank with bit-identical parameters; a resume continues the run bit for bit.
/// </summary>
public sealed class LowPrecisionAcrossWorkersTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(3);

    [Theory]
    [InlineData("{ n: 1, m: 2, pruner: mvue }")]
    [InlineData("{ n: 1, m: 2, pruner: mvue, gemms: weight_gradient, dense_first_last: true }")]
    public void Two_workers_train_with_masks_8_bit_and_gradient_pruning_bit_identically_and_resume_exactly(string gradientSparsity)
    {
        using var dir = new TempDirectory();
        var spec = dir.File("spec.yaml");
        File.WriteAllText(spec, $$"""
            name: lowprec-mpi
            model: { kind: cnn, width: 4, weight_sparsity: { n: 2, m: 4, transposable: true, method: optimal, recompute_every: 4 } }
            data: { dataset: synthetic, train_subset: 1024, test_subset: 256, augment: { crop_padding: 2, flip: true } }
            training:
              epochs: 2
              global_batch: 64
              threads: 1
              seed: 3
              quantize: { weights: 8, activations: 8, gradients: 8 }
              gradient_sparsity: {{gradientSparsity}}
            checkpoint: { every_steps: 5, keep: 3 }
            compression: { codec: nm+int8, algorithm: ring, min_compress_elements: 256 }
            """);
        var full = dir.File("full");
        var interrupted = dir.File("interrupted");
        MpiRunResult Train(string run, params string[] extra) =>
            MpiRunner.Run(2, Limit, ["train", spec, "--out", run, "--verify-every", "1", .. extra]);

        var reference = Train(full);
        Assert.True(reference.ExitCode == 0, reference.ToString());
        var first = Train(interrupted, "--stop-after", "12");
        Assert.True(first.ExitCode == 0, first.ToString());
        var resumed = Train(interrupted);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains("resumed from", resumed.Output);

        var (expected, _) = MetricsLog.Read(Path.Combine(full, "metrics.jsonl"));
        var (continued, _) = MetricsLog.Read(Path.Combine(interrupted, "metrics.jsonl"));
        Assert.Equal(32, expected.Count);
        Assert.Equal(expected.Select(s => (s.Step, s.Loss)), continued.Select(s => (s.Step, s.Loss)));
        Assert.All(expected, s => Assert.Equal(8, s.LowPrecision!.GradientBits));

        var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(full, "summary.json"))).RootElement;
        Assert.Equal("2:4 mvue+int8", summary.GetProperty("codec").GetString());
        var lowPrecision = summary.GetProperty("low_precision");
        Assert.Equal(0.5, lowPrecision.GetProperty("mask_density").GetDouble(), 12);
        Assert.InRange(lowPrecision.GetProperty("measured_gradient_sparsity").GetDouble(), 0.5, 1.0);
        Assert.True(double.IsFinite(summary.GetProperty("test_loss").GetDouble()));
    }
}
