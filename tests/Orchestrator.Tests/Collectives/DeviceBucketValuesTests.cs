using Orchestrator.Spec;
using Orchestrator.Trainer.Collectives;
using Orchestrator.Trainer.Compression;
using Orchestrator.Trainer.Compression.Torch;
using static TorchSharp.torch;

namespace Orchestrator.Tests.Collectives;

/// <summary>
/// The device path of the allreduce (issue 14 item 7): a bucket averaged where it lives by the torch-op codecs, with only
/// encodings crossing to the host, forced here on CPU tensors (this machine has no GPU). Where the codec draws nothing
/// (N:M greedy, none) it must give the fused host path's results bit for bit, residuals included; where it draws, the
/// ranks must still agree bit for bit and the traffic must be the fused format's.
/// </summary>
public sealed class DeviceBucketValuesTests
{
    private const int Elements = 1000;

    /// <summary>Rank <paramref name="rank"/>'s values: distinct magnitudes (no ties for greedy to break differently).</summary>
    private static float[] Values(int rank)
    {
        var random = new Random(17 + rank);
        return Enumerable.Range(0, Elements).Select(i => (float)((random.NextDouble() - 0.5) * (1 + i % 7))).ToArray();
    }

    private sealed record Outcome(float[] Average, float[] Residual, long HostBytes, long BytesSent);

    private static Outcome[] Average(int ranks, CompressionSpec spec, bool onDevice, bool feedback) =>
        InProcessWorld.Run(ranks, communicator =>
        {
            var algorithm = AllreduceAlgorithms.Create(spec.Algorithm, communicator);
            var stats = new AllreduceStats();
            var values = Values(communicator.Rank);
            var residual = new float[feedback ? Elements : 0];
            if (!onDevice)
            {
                algorithm.Allreduce(values, CodecRegistry.Create(spec), seed: 11, stats, residual);
                return new Outcome(values, residual, 0, stats.BytesSent);
            }
            using var bucket = tensor(values);
            using var memory = feedback ? zeros(Elements) : null;
            var device = new DeviceBucketValues(bucket, TorchCodecRegistry.Create(spec), memory);
            algorithm.Allreduce(ref device, seed: 11, stats);
            return new Outcome(bucket.data<float>().ToArray(), memory?.data<float>().ToArray() ?? [], device.HostBytes, stats.BytesSent);
        });

    [Theory]
    [InlineData("nm", "ring", 2)]
    [InlineData("nm", "ring", 4)]
    [InlineData("nm", "allgather", 3)]
    [InlineData("none", "ring", 3)]
    public void A_codec_that_draws_nothing_averages_on_the_device_exactly_as_the_fused_kernels_do(string codec, string algorithm, int ranks)
    {
        var spec = CompressionSpec.Default with { Codec = Named.Codec(codec), Pruner = PrunerKind.Greedy, Algorithm = Named.Algorithm(algorithm) };
        var host = Average(ranks, spec, onDevice: false, feedback: spec.Codec.Compresses());
        var device = Average(ranks, spec, onDevice: true, feedback: spec.Codec.Compresses());

        for (int r = 0; r < ranks; r++)
        {
            Assert.Equal(host[r].Average, device[r].Average);
            Assert.Equal(host[r].Residual, device[r].Residual);
            Assert.Equal(host[r].BytesSent, device[r].BytesSent);
        }
        if (spec.Codec.Compresses()) Assert.Contains(device[0].Residual, v => v != 0); // greedy dropped something: the residual holds it
    }

    [Theory]
    [InlineData("int8", "ring", 4)]
    [InlineData("nm+int8", "allgather", 2)]
    [InlineData("nm+int8", "ring", 3)]
    public void A_drawing_codec_on_the_device_keeps_ranks_bit_identical_and_its_residuals_telescope(string codec, string algorithm, int ranks)
    {
        var spec = CompressionSpec.Default with { Codec = Named.Codec(codec), Algorithm = Named.Algorithm(algorithm) };
        var device = Average(ranks, spec, onDevice: true, feedback: true);
        var host = Average(ranks, spec, onDevice: false, feedback: true);

        for (int r = 1; r < ranks; r++) Assert.Equal(device[0].Average, device[r].Average);
        // W x mean = sum of the inputs - sum of the residuals (IAllreduceAlgorithm's contract), up to fp32 rounding.
        for (int i = 0; i < Elements; i++)
        {
            double inputs = Enumerable.Range(0, ranks).Sum(r => (double)Values(r)[i]);
            double residuals = device.Sum(o => (double)o.Residual[i]);
            Assert.True(Math.Abs(ranks * device[0].Average[i] - (inputs - residuals)) <= 1e-4 * (1 + Math.Abs(inputs)), $"value {i}");
        }
        Assert.Equal(host.Select(o => o.BytesSent), device.Select(o => o.BytesSent));
    }

    [Theory]
    [InlineData("int8", 2)]
    [InlineData("nm+int8", 4)]
    public void Only_encodings_cross_to_the_host(string codec, int ranks)
    {
        var spec = CompressionSpec.Default with { Codec = Named.Codec(codec), Algorithm = AllreduceKind.Allgather };
        var device = Average(ranks, spec, onDevice: true, feedback: false);

        // Allgather: this rank's encoding goes out once, every rank's encoding comes back once to be decoded.
        int encoded = CodecRegistry.Create(spec).EncodedBytes(Elements);
        Assert.All(device, o => Assert.Equal((ranks + 1L) * encoded, o.HostBytes));
        Assert.True(encoded < 2 * Elements, $"{codec}: {encoded} bytes for {Elements} values"); // far below fp32's 4 per value
    }

    [Fact]
    public void A_bucket_that_is_not_flat_float32_or_a_mismatched_residual_is_refused()
    {
        var codec = TorchCodecRegistry.Create(CompressionSpec.Default with { Codec = CodecKind.Int8 });
        using var matrix = zeros(4, 4);
        using var doubles = zeros(8, dtype: ScalarType.Float64);
        using var flat = zeros(8);
        using var shortResidual = zeros(7);

        Assert.Contains("1-d contiguous float32", Assert.Throws<ArgumentException>(() => new DeviceBucketValues(matrix, codec)).Message);
        Assert.Contains("1-d contiguous float32", Assert.Throws<ArgumentException>(() => new DeviceBucketValues(doubles, codec)).Message);
        Assert.Contains("needs 8 values", Assert.Throws<ArgumentException>(() => new DeviceBucketValues(flat, codec, shortResidual)).Message);
    }
}
